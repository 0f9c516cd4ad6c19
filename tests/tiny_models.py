"""Small model configs shared by the tests."""
import os.path as osp

from repo_paths import REPO_ROOT

#: the embedded default: README command 1 trains it
DEMO_CONFIG = osp.join(
    REPO_ROOT, 'configs/icar/icar_resnet18-minilm_1xb64_synthetic-world.py')

#: a 1-layer BERT with the byte tokenizer's vocabulary and no dropout
TINY_TEXT = dict(
    model_type='bert',
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    vocab_size=300,
    max_position_embeddings=128,
    hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def text_classifier(text_encoder, *args, **kwargs):
    """A ``TextClassifier`` sharing ``text_encoder`` (as ``ICAR`` does)."""
    from icar_mm.models.text import TextClassifier
    classifier = TextClassifier(*args, **kwargs)
    classifier.share_text_encoder(text_encoder)
    return classifier


def small_demo_cfg(work_dir: str, max_iters: int, **overrides):
    """The demo config, shrunk to run in seconds (same components)."""
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.work_dir = work_dir
    cfg.merge_from_dict({
        'model.backbone.base_channels': 16,
        'model.backbone.stem_channels': 16,
        'model.feat_channels': 128,
        'model.embed_dim': 64,
        'train_dataloader.cls.batch_size': 16,
        'train_dataloader.itc.batch_size': 16,
        'train_dataloader.cls.dataset.num_per_class': 8,
        'train_dataloader.itc.dataset.num_samples': 256,
        'val_dataloader.dataset.num_per_class': 4,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': 10_000,
        'default_hooks.logger.interval': 1,
        'param_scheduler': [dict(type='ConstantLR', factor=1.0,
                                 by_epoch=False)],
        **overrides,
    })
    cfg.log_level = 'WARNING'
    return cfg


def record_encoded_texts(text_encoder) -> list:
    """Record the texts ``text_encoder`` encodes: one list per call of its
    ``encode_ids`` (strings and cached token ids both pass there), decoded
    from the ids."""
    seen = []
    encode_ids = text_encoder.encode_ids

    def recording(ids, normalize=True):
        seen.append([text_encoder.tokenizer.decode(i) for i in ids])
        return encode_ids(ids, normalize)

    text_encoder.encode_ids = recording
    return seen
