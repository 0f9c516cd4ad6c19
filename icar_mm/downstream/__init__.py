"""Downstream adapters: mmdet (``det``), mmseg (``seg``), mmaction2
(``action``).

Nothing here is imported by ``import icar_mm``: each subpackage imports its
host library, so a user without mmaction2 can still pretrain and detect.
Configs load an adapter with
``custom_imports = dict(imports=['icar_mm.downstream.det'])``.
"""
