# ICAR from a pretrained CLIP ViT-B/32: CLIP's image and text towers, its
# visual_projection as visual_proj and its logit_scale as the initial
# contrastive scale; images normalised with CLIP's mean and std (RGB).
# Inherit it and add a cls_head (iCAR's TextMetaClassifier) and the data.
#
# `clip` is a Hugging Face CLIPModel directory (`huggingface-cli download
# openai/clip-vit-base-patch32 --local-dir DIR`) or an OpenCLIP checkpoint
# converted to one (tools/model_converters/openclip_to_hf_clip.py ViT-B-32
# CKPT DIR). Offline, point the three keys at DIR:
#   --cfg-options model.backbone.pretrained=DIR \
#       model.text_encoder.pretrained=DIR model.init_from_clip=DIR
# Back to the Hugging Face layout after training:
#   python tools/model_converters/icar_to_hf_clip.py CKPT DIR OUT_DIR
clip = 'openai/clip-vit-base-patch32'

model = dict(
    type='ICAR',
    data_preprocessor=dict(
        type='TwoStreamDataPreprocessor',
        mean=[122.771, 116.746, 104.094],  # CLIP's
        std=[68.501, 66.632, 69.933],
        to_rgb=True),
    backbone=dict(type='HFCLIPVisionBackbone', pretrained=clip),
    neck=None,  # the backbone pools (class token + post_layernorm)
    feat_channels=768,  # the vision tower's hidden_size
    embed_dim=512,  # CLIP's projection_dim
    text_encoder=dict(type='TextEncoder', pretrained=clip, max_length=77),
    itc_loss=dict(type='ContrastiveLoss', max_scale=100.),
    init_from_clip=clip,
)
