"""The text tower shared by the classifier generator and the image-text
branch."""
import logging
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from icar_mm.class_texts.byte_tokenizer import ByteTokenizer
from icar_mm.class_texts.tokens import TextTokenizer, length_buckets, pad_ids
from icar_mm.models.utils.layer_groups import transformer_layer_groups
from icar_mm.registry import MODELS
from icar_mm.utils.pretrained import resolve_pretrained
from ..utils.hf_checkpoint import read_hf_tensors

#: how a text becomes one vector before the projection: the mean over its
#: real tokens, the first token's state, or the end-of-text token's
POOLINGS = ('mean', 'cls', 'eos')
#: dual-encoder checkpoints whose text tower is taken: model_type -> the
#: transformers class of the tower (its keys are the checkpoint's)
DUAL_ENCODER_TEXT_TOWERS = {'clip': 'CLIPTextModel'}
#: text models that pool their end-of-text token themselves
#: (``pooler_output``, by transformers' rule for finding it)
EOS_POOLING_MODELS = ('clip_text_model', )
#: model types whose checkpoints may hold the tower's own projection
PROJECTION_KEYS = {'clip': 'text_projection.weight',
                   'clip_text_model': 'text_projection.weight'}


@MODELS.register_module()
class TextEncoder(BaseModule):
    """Any Hugging Face ``AutoModel`` + pooling + bias-free projection.

    This is the single text tower of iCAR: the same instance encodes captions
    for the image-text contrastive loss and class texts to generate the cosine
    classifier's weights. Its :class:`TextTokenizer` is the one definition of
    tokenization: class texts are tokenized once (cached by the classifier),
    captions here or, with the same tokenizer, in the dataloader workers.

    Texts are encoded grouped by token length, each group padded only to its
    own longest (``bucket_by_length``), with the text model's fused attention
    (PyTorch SDPA) where it supports it; outputs and gradients equal one
    padded batch to float tolerance.

    CLIP: ``pretrained`` may be a ``CLIPModel`` directory (or a hub id).
    Its text tower (``CLIPTextModel``) is the model, pooled as CLIP pools
    (the end-of-text token after the final layer norm, found by
    transformers' rule: ``pooler_output``), and CLIP's ``text_projection``
    is :attr:`proj` (reused, not replaced), so that the normalised output
    equals ``CLIPModel.get_text_features`` normalised. The tokenizer is
    CLIP's, from the same directory. An OpenCLIP checkpoint is converted to
    such a directory first (:mod:`icar_mm.converters.clip_openclip`).

    Args:
        pretrained (str, optional): A local model directory, a hub id (needs
            network or the HF cache) or ``'package:NAME'`` for a model shipped
            inside a Python package. Mutually exclusive with ``config``.
        config (dict, optional): A transformers config as keyword arguments
            (``model_type`` required) to build a randomly initialised model.
        tokenizer (str, optional): Tokenizer location; defaults to
            ``pretrained``. ``'byte'`` selects a built-in UTF-8 byte tokenizer
            that needs no files (for randomly initialised models).
        embed_dim (int, optional): Joint embedding dimension of the
            projection. A checkpoint with a projection of its own (CLIP's
            ``text_projection``) fixes it: another value is an error.
            Defaults to that projection's, else 256.
        max_length (int): Tokens per text after truncation. Defaults to 77.
        pooling (str, optional): ``'mean'`` (over the real tokens),
            ``'cls'`` (the first token's state after the encoder) or
            ``'eos'`` (the end-of-text token's: CLIP's own rule for CLIP
            towers, else the last real token of a right-padded batch).
            Defaults to the model's own: ``'eos'`` for CLIP text towers,
            ``'mean'`` for other models.
        gradient_checkpointing (bool): Recompute the transformer's activations
            in backward to save memory. Defaults to False.
        frozen (bool): Freeze the transformer (the projection still trains).
            Defaults to False.
        freeze_embeddings (bool): Freeze the token embeddings.
            Defaults to False.
        frozen_layers (int): Freeze the embeddings and this many bottom
            transformer layers (partial fine-tuning: their backward pass is
            skipped). Defaults to 0.
        bucket_by_length (bool): Encode texts grouped by token length (False:
            one batch padded to the longest, icar_mm 0.1's path; with the
            classifier's ``cache_tokens=False`` its gradients are
            bit-identical). Defaults to True.
        max_tokens_per_batch (int): Padded tokens per forward pass when
            bucketing. Defaults to 16384.
        attn_implementation (str): transformers' attention implementation,
            ``'sdpa'`` (PyTorch's fused attention; transformers' default
            where the model has it) or ``'eager'``; a model without SDPA
            runs eager (logged). :attr:`attn_implementation` says which
            runs. Defaults to ``'sdpa'``.
        fallback (dict, optional): A randomly initialised replacement for
            when ``pretrained`` names a package that is not installed:
            ``config`` and optionally ``tokenizer`` (default ``'byte'``),
            ``max_length`` and the freezing options (default: nothing
            frozen). It changes what trains, so it is used only with
            ``allow=True`` in it (then with a warning in the work-dir log);
            otherwise the missing package stops the build, saying how to
            allow it.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[Dict] = None,
                 tokenizer: Optional[str] = None,
                 embed_dim: Optional[int] = None,
                 max_length: int = 77,
                 pooling: Optional[str] = None,
                 gradient_checkpointing: bool = False,
                 frozen: bool = False,
                 freeze_embeddings: bool = False,
                 frozen_layers: int = 0,
                 bucket_by_length: bool = True,
                 max_tokens_per_batch: int = 16384,
                 attn_implementation: str = 'sdpa',
                 fallback: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if (pretrained is None) == (config is None):
            raise ValueError('TextEncoder needs exactly one of `pretrained` '
                             '(a model directory) or `config` (a random '
                             f'model); got pretrained={pretrained!r}, '
                             f'config={config!r}.')
        if pretrained is not None and fallback is not None:
            try:
                resolve_pretrained(pretrained)
            except FileNotFoundError as e:
                fallback = dict(fallback)
                if not fallback.pop('allow', False):
                    raise FileNotFoundError(
                        f'{e} This config has a randomly initialised '
                        'fallback text tower; to train with it instead, '
                        'allow it: --cfg-options '
                        'model.text_encoder.fallback.allow=True (then the '
                        'zero-shot numbers are not those of a pretrained '
                        'tower).') from e
                message = (f'{e} TRAINING A RANDOMLY INITIALISED TEXT '
                           f'TOWER instead (fallback allowed): {fallback}.')
                warnings.warn(message)
                print_log(message, logger='current', level=logging.WARNING)
                # a random model: nothing frozen unless the fallback says so
                pretrained, config = None, fallback.pop('config')
                tokenizer = fallback.pop('tokenizer', 'byte')
                frozen = fallback.pop('frozen', False)
                freeze_embeddings = fallback.pop('freeze_embeddings', False)
                frozen_layers = fallback.pop('frozen_layers', 0)
                max_length = fallback.pop('max_length', max_length)
                if fallback:
                    raise ValueError('Unknown keys in TextEncoder fallback: '
                                     f'{sorted(fallback)}.')
        self.max_length = max_length
        self.model = self._build_model(pretrained, config,
                                       attn_implementation)
        self.tokenizer = self._build_tokenizer(tokenizer or pretrained)
        self.bucket_by_length = bucket_by_length
        self.max_tokens_per_batch = max_tokens_per_batch
        #: real tokens and padded token slots the text model processed
        self.token_counts = dict(real=0, slots=0)
        if getattr(self.model, 'pooler', None) is not None:
            self.model.pooler = None  # unused: our pooling replaces it
        self.pooling = self._check_pooling(pooling)
        self._check_max_length()
        self._check_eos_rule()
        hidden = self.model.config.hidden_size
        weight = self._pretrained_projection(pretrained)
        if weight is not None:
            if embed_dim is not None and embed_dim != weight.shape[0]:
                raise ValueError(
                    f'embed_dim={embed_dim}, but the text tower of '
                    f'{pretrained!r} has its own projection to '
                    f'{weight.shape[0]} dimensions (CLIP\'s '
                    'text_projection), which the text encoder reuses: set '
                    f'embed_dim={weight.shape[0]} (model.embed_dim of '
                    'ICAR, the text classifier\'s embed_dim of a head).')
            embed_dim = weight.shape[0]
        elif embed_dim is None:
            embed_dim = 256
        self.proj = nn.Linear(hidden, embed_dim, bias=False)
        if weight is not None:
            with torch.no_grad():
                self.proj.weight.copy_(weight)
        else:
            nn.init.normal_(self.proj.weight, std=hidden**-0.5)
        self.embed_dim = embed_dim
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={'use_reentrant': False})
        if frozen:
            self.model.requires_grad_(False)
        elif freeze_embeddings or frozen_layers:
            self.model.get_input_embeddings().requires_grad_(False)
        if frozen_layers and not frozen:
            layers = self._transformer_layers()
            if frozen_layers > len(layers):
                raise ValueError(f'frozen_layers={frozen_layers} but the '
                                 f'text model has {len(layers)} layers.')
            embeddings = self._embeddings()
            if embeddings is not None:
                embeddings.requires_grad_(False)
            for layer in layers[:frozen_layers]:
                layer.requires_grad_(False)

    @staticmethod
    def _text_config(config, source: str):
        """The text tower's part of ``config`` (a dual encoder's
        ``text_config``) and the transformers class that loads it from the
        dual encoder's checkpoint (None: ``AutoModel``)."""
        model_type = config.model_type
        if model_type in DUAL_ENCODER_TEXT_TOWERS:
            return config.text_config, DUAL_ENCODER_TEXT_TOWERS[model_type]
        if getattr(config, 'text_config', None) is not None and not hasattr(
                config, 'hidden_size'):
            raise ValueError(
                f'{source} is a {model_type!r} model with a text tower '
                'inside; the text encoder takes the text tower of CLIP '
                f'checkpoints ({sorted(DUAL_ENCODER_TEXT_TOWERS)}) or any '
                'text model AutoModel builds.')
        return config, None

    @staticmethod
    def _build_model(pretrained: Optional[str], config: Optional[Dict],
                     attn_implementation: str) -> nn.Module:
        import transformers
        from transformers import AutoConfig, AutoModel
        if config is not None:
            config = dict(config)
            model_type = config.pop('model_type')
            config, _ = TextEncoder._text_config(
                AutoConfig.for_model(model_type, **config),
                f'config model_type={model_type!r}')

            def build(attn):
                return AutoModel.from_config(config, attn_implementation=attn)
        else:
            path = resolve_pretrained(pretrained)
            if path.startswith(('/', '.', '~')) and not osp.isdir(
                    osp.expanduser(path)):
                raise FileNotFoundError(
                    f'Text model directory {path!r} does not exist. Set '
                    'model.text_encoder.pretrained (e.g. with --cfg-options '
                    'model.text_encoder.pretrained=/path/to/roberta-base) to '
                    'a local directory holding config.json and the weights.')

            def cannot_load(e):
                return FileNotFoundError(
                    f'Cannot load the text model {path!r}: {e}\nNo '
                    'network or cache here? Download it elsewhere (e.g. '
                    f'`huggingface-cli download {path} --local-dir DIR`) '
                    'and set model.text_encoder.pretrained=DIR.')

            try:
                _, tower = TextEncoder._text_config(
                    AutoConfig.from_pretrained(osp.expanduser(path)),
                    repr(path))
            except OSError as e:
                raise cannot_load(e) from e
            model_class = AutoModel if tower is None else getattr(
                transformers, tower)

            def build(attn):
                try:
                    return model_class.from_pretrained(
                        osp.expanduser(path), attn_implementation=attn)
                except OSError as e:
                    raise cannot_load(e) from e
        try:
            return build(attn_implementation)
        except ValueError as e:  # the model does not support it
            if attn_implementation == 'eager':
                raise
            print_log(f'Text model: attn_implementation='
                      f'{attn_implementation!r} is not supported ({e}); '
                      'running eager attention.', logger='current',
                      level=logging.WARNING)
            return build('eager')

    def _check_pooling(self, pooling: Optional[str]) -> str:
        if pooling is None:
            return 'eos' if self._pools_eos_itself else 'mean'
        if pooling not in POOLINGS:
            raise ValueError(f'pooling={pooling!r}; choose one of '
                             f'{POOLINGS}.')
        if pooling == 'cls' and self._pools_eos_itself:
            raise ValueError(
                "pooling='cls' on a CLIP text tower: its attention is "
                'causal, so the first token sees only itself and every '
                "text would get one embedding. Use 'eos' (CLIP's) or "
                "'mean'.")
        return pooling

    @property
    def _pools_eos_itself(self) -> bool:
        """The text model finds its end-of-text token (CLIP)."""
        return self.model.config.model_type in EOS_POOLING_MODELS

    def _check_max_length(self) -> None:
        positions = getattr(self.model.config, 'max_position_embeddings',
                            None)
        if self._pools_eos_itself and positions is not None and \
                self.max_length > positions:
            raise ValueError(
                f'max_length={self.max_length}, but the text model has '
                f'{positions} positions: set max_length<={positions}.')

    def _check_eos_rule(self) -> None:
        """A CLIP tower's own rule finds the tokenizer's end of text."""
        if not (self.pooling == 'eos' and self._pools_eos_itself):
            return
        rule = self.model.config.eos_token_id
        backend = self.tokenizer.backend
        eos = ByteTokenizer.sep_id if isinstance(
            backend, ByteTokenizer) else backend.eos_token_id
        if rule == 2:  # transformers' legacy rule: the largest id
            found = eos == self.tokenizer.vocab_size - 1
            how = 'as the largest token id (legacy eos_token_id=2)'
        else:
            found = eos == rule
            how = f'as eos_token_id={rule}'
        if not found:
            raise ValueError(
                f'The CLIP text tower finds the end of text {how}, but the '
                f'tokenizer {self.tokenizer.name!r} ends texts with id '
                f'{eos}: use the CLIP checkpoint\'s tokenizer (or '
                "pooling='mean').")

    def _pretrained_projection(self, pretrained: Optional[str]
                               ) -> Optional[torch.Tensor]:
        """The checkpoint's own text projection (CLIP's
        ``text_projection``), if it has one."""
        if pretrained is None:
            return None
        from transformers import AutoConfig
        path = osp.expanduser(resolve_pretrained(pretrained))
        key = PROJECTION_KEYS.get(AutoConfig.from_pretrained(path).model_type)
        if key is None:
            return None
        weight = read_hf_tensors(path, [key]).get(key)
        hidden = self.model.config.hidden_size
        if weight is not None and (weight.dim() != 2
                                   or weight.shape[1] != hidden):
            raise ValueError(f'{pretrained!r}: {key} has shape '
                             f'{tuple(weight.shape)}, not (D, {hidden}).')
        return weight

    def _embeddings(self) -> Optional[nn.Module]:
        """The embeddings module (tokens, positions) of the text model."""
        for owner in (self.model, getattr(self.model, 'text_model', None)):
            embeddings = getattr(owner, 'embeddings', None)
            if isinstance(embeddings, nn.Module):
                return embeddings
        return None

    def layer_groups(self) -> List[List[str]]:
        """Parameter names bottom to top: the embeddings, each transformer
        layer (the last with the final norm), the projection (OpenCLIP's
        text-tower groups; see :mod:`icar_mm.models.utils.layer_groups`)."""
        groups = transformer_layer_groups(self.model, self._embeddings(),
                                          self._transformer_layers())
        return [['model.' + n for n in g]
                for g in groups] + [['proj.weight']]

    @staticmethod
    def tokenizer_of(cfg: Dict) -> tuple:
        """``(tokenizer, max_length)`` a config of this class tokenizes
        with, without building it (a random model with no tokenizer given
        uses the byte tokenizer)."""
        name = cfg.get('tokenizer') or cfg.get('pretrained') or 'byte'
        return name, cfg.get('max_length', 77)

    @property
    def attn_implementation(self) -> str:
        """The attention implementation the text model runs."""
        return getattr(self.model.config, '_attn_implementation', 'eager')

    def _build_tokenizer(self, tokenizer: Optional[str]) -> TextTokenizer:
        if tokenizer is None or tokenizer == 'byte':
            vocab = self.model.config.vocab_size
            if vocab < ByteTokenizer.vocab_size:
                raise ValueError(
                    f'The byte tokenizer needs vocab_size >= '
                    f'{ByteTokenizer.vocab_size}; the text model has {vocab}.')
            tokenizer = 'byte'
        return TextTokenizer(tokenizer, self.max_length)

    def _transformer_layers(self) -> nn.ModuleList:
        """The stack of transformer layers (the longest ``ModuleList``)."""
        n = getattr(self.model.config, 'num_hidden_layers', None)
        lists = [
            m for m in self.model.modules()
            if isinstance(m, nn.ModuleList) and (n is None or len(m) == n)
        ]
        if not lists:
            raise ValueError('Cannot find the transformer layers of '
                             f'{type(self.model).__name__} to freeze.')
        return max(lists, key=len)

    @property
    def device(self) -> torch.device:
        return self.proj.weight.device

    def tokenize(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        """Tokenize, truncate to ``max_length`` and pad to the longest.

        Args:
            texts (Sequence[str]): The texts.

        Returns:
            dict: ``input_ids`` and ``attention_mask`` on the model's device.
        """
        return pad_ids(self.tokenizer(texts), self.tokenizer.pad_id,
                       self.device)

    def pool(self, tokens: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The text model's hidden states, pooled (before the projection).

        ``'mean'``: over the real tokens; ``'cls'``: the first token;
        ``'eos'``: the end-of-text token, as a CLIP text model finds it
        (its ``pooler_output``: the first ``eos_token_id``, or the largest
        id for configs with the legacy ``eos_token_id=2``), else the last
        real token.

        Args:
            tokens (dict): ``input_ids`` and ``attention_mask`` (right
                padded).

        Returns:
            Tensor: ``(N, hidden)`` pooled states.
        """
        mask = tokens['attention_mask']
        out = self.model(input_ids=tokens['input_ids'], attention_mask=mask)
        if self.pooling == 'eos' and self._pools_eos_itself:
            return out.pooler_output
        hidden = out[0]
        if self.pooling == 'cls':
            return hidden[:, 0]
        if self.pooling == 'eos':
            last = mask.sum(1).clamp(min=1) - 1
            return hidden[torch.arange(hidden.shape[0],
                                       device=hidden.device), last]
        mask = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def _encode_padded(self, ids: Sequence[np.ndarray]) -> torch.Tensor:
        tokens = pad_ids(ids, self.tokenizer.pad_id, self.device)
        self.token_counts['real'] += int(tokens['attention_mask'].sum())
        self.token_counts['slots'] += tokens['attention_mask'].numel()
        return self.proj(self.pool(tokens))

    def encode_ids(self, ids: Sequence[np.ndarray],
                   normalize: bool = True) -> torch.Tensor:
        """Encode tokenized texts, grouped by length (with gradient).

        Args:
            ids (Sequence[np.ndarray]): Token ids of each text (e.g. from
                :attr:`tokenizer` or a class-text token cache).
            normalize (bool): L2-normalise the embeddings. Defaults to True.

        Returns:
            Tensor: ``(N, embed_dim)`` embeddings, in the order of ``ids``.
        """
        if not len(ids):
            return self.proj.weight.new_zeros(0, self.embed_dim)
        if not self.bucket_by_length:
            embeds = self._encode_padded(ids)
        else:
            buckets = length_buckets([len(i) for i in ids],
                                     self.max_tokens_per_batch)
            parts = [self._encode_padded([ids[i] for i in bucket])
                     for bucket in buckets]
            # back from length order to the order of `ids`
            restore = np.argsort(np.concatenate(buckets), kind='stable')
            embeds = torch.cat(parts)[torch.from_numpy(restore).to(
                self.device)]
        return F.normalize(embeds, dim=-1) if normalize else embeds

    def forward(self,
                texts: Union[Sequence[str], Sequence[np.ndarray],
                             Dict[str, torch.Tensor]],
                normalize: bool = True) -> torch.Tensor:
        """Encode texts into the joint space.

        Args:
            texts (Sequence[str] | Sequence[np.ndarray] | dict): Raw texts,
                their token ids, or a padded batch (:meth:`tokenize`).
            normalize (bool): L2-normalise the embeddings. Defaults to True.

        Returns:
            Tensor: ``(N, embed_dim)`` embeddings.
        """
        if isinstance(texts, dict):
            embeds = self.proj(self.pool(texts))
            return F.normalize(embeds, dim=-1) if normalize else embeds
        texts = list(texts)
        if texts and isinstance(texts[0], str):
            texts = self.tokenizer(texts)
        return self.encode_ids(texts, normalize)

    @torch.no_grad()
    def encode_no_grad(self, texts: List[str],
                       chunk_size: int = 1024) -> torch.Tensor:
        """Encode many texts without gradient, ``chunk_size`` at a time.

        Args:
            texts (list[str]): The texts.
            chunk_size (int): Texts tokenized and encoded at a time.
                Defaults to 1024.

        Returns:
            Tensor: ``(N, embed_dim)`` L2-normalised embeddings.
        """
        return torch.cat([
            self(texts[i:i + chunk_size])
            for i in range(0, len(texts), chunk_size)
        ])
