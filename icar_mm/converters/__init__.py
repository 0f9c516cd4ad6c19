"""Checkpoint converters (no imports here: each module is used on its own).

* :mod:`.swin_keys`: Swin key layouts (mmpretrain = mmdet = mmseg, and the
  official / author layout).
* :mod:`.icar_checkpoint`: an icar_mm pretraining checkpoint -> a backbone
  file in the host's layout + the text-tower file.
* :mod:`.author_layout`: the author's released layout -> icar_mm.
* :mod:`.key_report`: missing / unexpected / shape-mismatched keys.
"""
