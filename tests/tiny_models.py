"""Small model configs shared by the tests."""

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
