"""The iCAR model: one backbone, classification and image-text alignment."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from icar_mm.class_texts import ClassTextBank
from icar_mm.registry import MODELS
from .text.text_classifier import TextClassifier
from .utils.distributed import rank_offset
from .utils.feature_cache import feature_cache_step, split_streams
from .utils.hf_checkpoint import read_hf_tensors
from .utils.layer_groups import (LayerGroups, backbone_layer_groups,
                                 check_partition, lock_top_unlocked)

Streams = Dict[str, Optional[torch.Tensor]]


@MODELS.register_module()
class ICAR(BaseModel):
    """iCAR: image classification and image-text alignment, deeply fused.

    One backbone (any mmpretrain backbone, unchanged) and neck give a feature
    ``x``; a bias-free projection ``P_v`` maps it into the joint space. Each
    training iteration consumes an image-label batch (``'cls'`` stream) and an
    image-text batch (``'itc'`` stream); both go through the same backbone
    and projection, and the same text encoder serves the classifier and the
    contrastive loss. ``loss = L_cls + lambda * L_itc`` (``lambda`` is the
    contrastive loss's ``loss_weight``).

    The baselines of the paper are switches of this class:

    =========================  ==============================================
    variant                    config
    =========================  ==============================================
    linear classifier only     ``LinearClsHead``, ``cls_on_projection=False``
    cosine classifier only     ``CosineClsHead``
    image-text alignment       ``cls_head=None``, ``itc_loss`` (CLIP)
    shallow fusion             ``LinearClsHead`` (on ``x``) + ``itc_loss``
    iCAR without descriptions  ``TextMetaClassifier``, no descriptions
    iCAR                       ``TextMetaClassifier`` + ``itc_loss``
    UniCL                      iCAR's heads + ``unified_contrastive=True``
    =========================  ==============================================

    ``itc_loss`` is CLIP's softmax loss (:class:`ContrastiveLoss`) or
    SigLIP's sigmoid loss (:class:`SigmoidContrastiveLoss`).

    The classes :meth:`predict` scores are those of :attr:`text_classifier`
    (the head's :class:`TextClassifier`, or, for a model with a text encoder
    but a parametric head, a zero-shot one at CLIP's scale 100 with no
    classes of its own): set a vocabulary with
    ``model.text_classifier.set_vocabulary(...)``. Without text classes the
    parametric head predicts.

    Starting from a CLIP (a Hugging Face ``CLIPModel`` directory; OpenCLIP
    checkpoints are converted to one by
    :mod:`icar_mm.converters.clip_openclip`): its towers are
    ``backbone=dict(type='HFCLIPVisionBackbone', pretrained=DIR)`` with
    ``neck=None`` and ``text_encoder=dict(pretrained=DIR)``;
    ``init_from_clip=DIR`` makes CLIP's ``visual_projection`` this model's
    ``visual_proj`` and its ``logit_scale`` the initial scale of the
    contrastive loss and of the zero-shot classifier made here. Then
    :meth:`embed_images` equals ``get_image_features`` normalised, the text
    encoder ``get_text_features`` normalised, and the zero-shot logits of
    :meth:`classify` (no text head) CLIP's ``logits_per_image``; a text
    head's classifier keeps its own ``tau`` (the logits are CLIP's times
    ``1 / (tau * exp(logit_scale))``). Configs for CLIP normalise images
    with CLIP's mean and std (``icar_mm.models.backbones.CLIP_MEAN``,
    ``CLIP_STD``).

    Args:
        backbone (dict): An mmpretrain backbone config.
        neck (dict, optional): Neck config. Defaults to
            ``GlobalAveragePooling``.
        feat_channels (int): Channels of the neck output ``x``.
        embed_dim (int): Joint embedding dimension. Defaults to 256.
        text_encoder (dict, optional): :class:`TextEncoder` config; needed by
            the text classifier, the contrastive loss and zero-shot.
        cls_head (dict, optional): Classification head config.
        itc_loss (dict, optional): :class:`ContrastiveLoss` config.
        cls_on_projection (bool): Feed ``P_v(x)`` (True, cosine heads) or ``x``
            (linear heads) to the classification head. Defaults to True.
        separate_cls_proj (bool): Give the classification head (and
            :meth:`predict`) a projection ``P_c`` of its own instead of
            ``P_v``, which then serves the contrastive loss and
            :meth:`embed_images` only: the text encoder and the backbone
            stay shared, the joint embedding no longer feels the
            classification loss. Defaults to False.
        unified_contrastive (bool): UniCL (Yang et al., CVPR 2022): no
            classification loss; the image-label batch enters ``itc_loss``
            as (image, class text) pairs, the class texts encoded by the
            head's text classifier (one template per class per step, as
            iCAR's classifier draws them), and pairs of the same class are
            positives; each caption pair is its own label. Needs a
            ``TextMetaClassifier`` head (it scores :meth:`predict`) and
            ``itc_loss``. Defaults to False.
        vocabulary (dict, optional): :class:`ClassTextBank` config of the
            classes :meth:`predict` scores (zero-shot); defaults to the
            training classes of the head. See :attr:`text_classifier`.
        init_from_clip (str, optional): A Hugging Face CLIP directory (or
            hub id) whose ``visual_projection`` initialises ``visual_proj``
            (same shape: ``(embed_dim, feat_channels)``) and whose
            ``logit_scale`` initialises the scale of ``itc_loss`` and of
            the zero-shot classifier of a model without text head.
            Defaults to None.
        lock_image_unlocked_groups (int, optional): Freeze the image tower
            (backbone, then ``visual_proj``) but its top this many layer
            groups (OpenCLIP's ``--lock-image-unlocked-groups``; 0 freezes
            it all; see :meth:`layer_groups`). Batch-norm statistics still
            update: set the backbone's ``norm_eval=True`` for that.
            Defaults to None (nothing frozen).
        lock_text_unlocked_layers (int, optional): The same for the text
            tower (embeddings, layers, projection; OpenCLIP's
            ``--lock-text-unlocked-layers``). Defaults to None.
        accum_freq (int): Feature-cache gradient accumulation: split each
            batch into this many micro-batches and get the gradients of the
            full batch (contrastive loss over all of it) with the
            activation memory of one micro-batch (OpenCLIP's
            ``--accum-freq``; see :mod:`icar_mm.models.utils.feature_cache`).
            Distributed runs need ``model_wrapper_cfg=dict(type=
            'FeatureCacheDistributedDataParallel')``. Defaults to 1 (off).
        data_preprocessor (dict, optional): Defaults to
            ``TwoStreamDataPreprocessor``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: Dict,
                 feat_channels: int,
                 neck: Optional[Dict] = dict(type='GlobalAveragePooling'),
                 embed_dim: int = 256,
                 text_encoder: Optional[Dict] = None,
                 cls_head: Optional[Dict] = None,
                 itc_loss: Optional[Dict] = None,
                 cls_on_projection: bool = True,
                 separate_cls_proj: bool = False,
                 unified_contrastive: bool = False,
                 vocabulary: Optional[Dict] = None,
                 init_from_clip: Optional[str] = None,
                 lock_image_unlocked_groups: Optional[int] = None,
                 lock_text_unlocked_layers: Optional[int] = None,
                 accum_freq: int = 1,
                 data_preprocessor: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='TwoStreamDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if cls_head is None and itc_loss is None:
            raise ValueError('ICAR needs `cls_head`, `itc_loss` or both.')
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.feat_channels = feat_channels
        # the joint-space projection P_v, unless only a linear head uses x
        self.visual_proj = None
        if itc_loss is not None or text_encoder is not None or (
                cls_head is not None and cls_on_projection):
            self.visual_proj = nn.Linear(
                feat_channels, embed_dim, bias=False)
            nn.init.normal_(self.visual_proj.weight, std=feat_channels**-0.5)
        self.text_encoder = None
        if text_encoder is not None:
            text_encoder = dict(text_encoder)
            if text_encoder.setdefault('embed_dim', embed_dim) != embed_dim:
                raise ValueError(
                    f'model.text_encoder.embed_dim='
                    f'{text_encoder["embed_dim"]} but model.embed_dim='
                    f'{embed_dim}: the text and image embeddings share one '
                    'joint space. Set model.embed_dim only (the text encoder '
                    'takes it).')
            text_encoder.setdefault('type', 'TextEncoder')
            self.text_encoder = MODELS.build(text_encoder)
        self.cls_head = MODELS.build(cls_head) if cls_head else None
        self.itc_loss = MODELS.build(itc_loss) if itc_loss else None
        self.cls_on_projection = cls_on_projection
        if self.itc_loss is not None and self.text_encoder is None:
            raise ValueError('The contrastive loss needs `text_encoder`.')
        self.cls_proj = None
        if separate_cls_proj:
            if self.cls_head is None or not cls_on_projection:
                raise ValueError('separate_cls_proj gives a projection to '
                                 'a cls_head on the joint space: it needs '
                                 'cls_head and cls_on_projection=True.')
            self.cls_proj = nn.Linear(feat_channels, embed_dim, bias=False)
            nn.init.normal_(self.cls_proj.weight, std=feat_channels**-0.5)
        clip = self._clip_tensors(init_from_clip, embed_dim)
        if clip:
            with torch.no_grad():
                self.visual_proj.weight.copy_(clip['visual_projection.weight'])
                if self.itc_loss is not None:
                    self.itc_loss.log_scale.copy_(clip['logit_scale'])
        self._clip_classifier = None
        classifier = self._bind_text_classifier()
        if clip and self._clip_classifier is not None:
            with torch.no_grad():
                self._clip_classifier.log_scale.copy_(clip['logit_scale'])
        if vocabulary is not None:
            if classifier is None:
                raise ValueError('A vocabulary needs a text encoder; this '
                                 'model has only a parametric classifier.')
            classifier.set_vocabulary(vocabulary)
        self.unified_contrastive = unified_contrastive
        head_has_text_classifier = classifier is not None and \
            self._clip_classifier is None
        if unified_contrastive and (self.itc_loss is None
                                    or not head_has_text_classifier):
            raise ValueError(
                'unified_contrastive (UniCL) turns the image-label batch '
                'into (image, class text) pairs of itc_loss: it needs '
                'itc_loss and a cls_head with a text classifier '
                '(TextMetaClassifier).')
        if accum_freq < 1:
            raise ValueError(f'accum_freq must be >= 1, got {accum_freq}.')
        self.accum_freq = accum_freq
        self._layer_depths: Optional[Dict[str, Tuple[int, int]]] = None
        self._lock_towers(lock_image_unlocked_groups,
                          lock_text_unlocked_layers)

    def _clip_tensors(self, init_from_clip: Optional[str],
                      embed_dim: int) -> Dict[str, torch.Tensor]:
        """CLIP's ``visual_projection.weight`` and ``logit_scale``,
        checked against this model (empty without ``init_from_clip``)."""
        if init_from_clip is None:
            return {}
        names = ('visual_projection.weight', 'logit_scale')
        clip = read_hf_tensors(init_from_clip, names)
        missing = [n for n in names if n not in clip]
        if missing:
            raise ValueError(f'init_from_clip={init_from_clip!r} has no '
                             f'{missing}: not a CLIPModel checkpoint.')
        expected = (embed_dim, self.feat_channels)
        if self.visual_proj is None or tuple(
                clip['visual_projection.weight'].shape) != expected:
            raise ValueError(
                f'init_from_clip={init_from_clip!r}: CLIP\'s '
                'visual_projection has shape (projection_dim, hidden_size)='
                f'{tuple(clip["visual_projection.weight"].shape)}, but this '
                f'model\'s visual_proj is (embed_dim, feat_channels)='
                f'{expected}: set model.embed_dim and model.feat_channels '
                'to CLIP\'s (and neck=None).')
        return clip

    def layer_groups(self) -> Dict[str, LayerGroups]:
        """The towers' parameter names in layer groups, bottom to top.

        ``'image'``: the backbone's groups (the neck's parameters with its
        top one), then ``visual_proj``; ``'text'`` (with a text encoder):
        embeddings, transformer layers, projection. Used by the locking
        options and by :meth:`get_layer_depth`.
        """
        image = backbone_layer_groups(self.backbone)
        if self.neck is not None:
            image[-1] += [f'neck.{n}' for n, _ in
                          self.neck.named_parameters()]
        if self.visual_proj is not None:
            image.append(['visual_proj.weight'] + (
                ['cls_proj.weight'] if self.cls_proj is not None else []))
        check_partition(self.backbone, [
            [n for n in g if n.startswith('backbone.')] for g in image
        ], 'backbone.')
        groups = dict(image=image)
        if self.text_encoder is not None:
            groups['text'] = [['text_encoder.' + n for n in g]
                              for g in self.text_encoder.layer_groups()]
            check_partition(self.text_encoder, groups['text'],
                            'text_encoder.')
        return groups

    def get_layer_depth(self, param_name: str) -> Tuple[int, int]:
        """``(layer_id, max_id)`` of a parameter for mmpretrain's
        ``LearningRateDecayOptimWrapperConstructor``.

        Each tower decays from its own top group (learning rate x 1) down to
        its embeddings (x ``layer_decay_rate ** (groups - 1)``); everything
        else (heads, temperatures) trains at the base rate.
        """
        if self._layer_depths is None:
            self._layer_depths = {
                name: (i, len(groups))
                for groups in self.layer_groups().values()
                for i, group in enumerate(groups) for name in group
            }
        return self._layer_depths.get(param_name, (0, 1))

    def _lock_towers(self, image_unlocked: Optional[int],
                     text_unlocked: Optional[int]) -> None:
        if image_unlocked is None and text_unlocked is None:
            return
        groups = self.layer_groups()
        if image_unlocked is not None:
            lock_top_unlocked(self, groups['image'], image_unlocked,
                              'image')
        if text_unlocked is not None:
            if 'text' not in groups:
                raise ValueError('lock_text_unlocked_layers needs a text '
                                 'encoder; this model has none.')
            lock_top_unlocked(self, groups['text'], text_unlocked, 'text')

    def _bind_text_classifier(self) -> Optional[TextClassifier]:
        """Find (or make) the text classifier and give it the text encoder.

        The head's :class:`TextClassifier` (iCAR) is kept as a plain
        reference, so its weights stay saved once, under ``cls_head``.
        """
        found = [m for m in self.cls_head.modules()
                 if isinstance(m, TextClassifier)] if self.cls_head else []
        if len(found) > 1:
            raise ValueError(f'cls_head has {len(found)} text classifiers; '
                             'ICAR supports one.')
        if found:
            classifier = found[0]
        elif self.text_encoder is not None:
            # zero-shot scores of a model without text head: scale 100 (CLIP)
            self._clip_classifier = classifier = TextClassifier(tau=0.01)
        else:
            classifier = None
        if classifier is not None and classifier.text_encoder is None:
            if self.text_encoder is None:
                raise ValueError('The text classifier of cls_head needs '
                                 '`text_encoder` (or one of its own).')
            classifier.share_text_encoder(self.text_encoder)
        object.__setattr__(self, 'text_classifier', classifier)
        return classifier

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Backbone + neck: ``(N, feat_channels)``."""
        x = self.backbone(inputs)
        if self.neck is not None:
            x = self.neck(x)
        x = x[-1] if isinstance(x, (tuple, list)) else x
        if x.dim() != 2 or x.shape[1] != self.feat_channels:
            raise ValueError(
                f'The backbone and neck give features of shape '
                f'{tuple(x.shape)}, but model.feat_channels='
                f'{self.feat_channels}: set model.feat_channels='
                f'{x.shape[-1] if x.dim() == 2 else "<channels>"} (and a '
                'pooling neck for spatial features).')
        return x

    def embed_images(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised image embeddings in the joint space, ``(N, D)``."""
        return nn.functional.normalize(
            self.visual_proj(self.extract_feat(inputs)), dim=-1)

    def _features(self, inputs: Streams) -> Dict[str, torch.Tensor]:
        """One backbone pass over both streams when their shapes allow."""
        present = {k: v for k, v in inputs.items() if v is not None}
        shapes = {tuple(v.shape[1:]) for v in present.values()}
        if len(present) > 1 and len(shapes) == 1:
            feats = self.extract_feat(torch.cat(list(present.values())))
            sizes = [v.shape[0] for v in present.values()]
            return dict(zip(present, feats.split(sizes)))
        return {k: self.extract_feat(v) for k, v in present.items()}

    def representations(self, inputs: Streams,
                        data_samples: Dict[str, List[DataSample]]
                        ) -> Dict[str, torch.Tensor]:
        """What the losses need from the towers, per sample.

        Args:
            inputs (dict): ``cls`` and/or ``itc`` image batches.
            data_samples (dict): ``itc`` samples with ``text`` (captions).

        Returns:
            dict: ``cls`` (classification-head input), ``itc_image`` and
            ``itc_text`` (unnormalised joint-space embeddings).
        """
        feats = self._features(inputs)
        reps = {}
        if 'cls' in feats:
            if self.cls_head is None:
                raise ValueError('Got an image-label batch but the model has '
                                 'no cls_head; remove the cls stream.')
            reps['cls'] = self._cls_input(feats['cls'])
        if 'itc' in feats:
            if self.itc_loss is None:
                raise ValueError('Got an image-text batch but the model has '
                                 'no itc_loss; remove the itc stream.')
            reps['itc_image'] = self.visual_proj(feats['itc'])
            reps['itc_text'] = self.text_encoder(
                self._captions(data_samples['itc']), normalize=False)
        return reps

    def _cls_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the classification head reads of features ``x``."""
        if self.cls_proj is not None:
            return self.cls_proj(x)
        return self.visual_proj(x) if self.cls_on_projection else x

    def _captions(self, samples: List[DataSample]) -> list:
        """Caption token ids made in the dataloader (``TokenizeCaption``)
        when every sample has them, else the caption strings."""
        if not all('text_ids' in s for s in samples):
            return [s.text for s in samples]
        mine = self.text_encoder.tokenizer.fingerprint
        theirs = {s.text_tokenizer for s in samples}
        if theirs != {mine}:
            raise ValueError(
                f'The captions were tokenized by {sorted(theirs)} in the '
                f'data pipeline, but the text encoder tokenizes as {mine}: '
                'give TokenizeCaption the text encoder\'s tokenizer and '
                'max_length.')
        return [s.text_ids for s in samples]

    def losses_from_representations(
            self, reps: Dict[str, torch.Tensor],
            data_samples: Dict[str, List[DataSample]]
    ) -> Dict[str, torch.Tensor]:
        """The losses of a batch given its :meth:`representations`.

        The class weights are generated here, from the text encoder.
        """
        if self.unified_contrastive and 'cls' in reps:
            return self._unified_contrastive_loss(reps, data_samples)
        losses = {}
        if 'cls' in reps:
            cls_losses = self.cls_head.loss((reps['cls'], ),
                                            data_samples['cls'])
            losses.update({
                k.replace('loss', 'loss_cls', 1): v
                for k, v in cls_losses.items()
            })
        if 'itc_image' in reps:
            losses.update(self.itc_loss(reps['itc_image'], reps['itc_text']))
        return losses

    def _unified_contrastive_loss(
            self, reps: Dict[str, torch.Tensor],
            data_samples: Dict[str, List[DataSample]]
    ) -> Dict[str, torch.Tensor]:
        """UniCL's loss: image-label and image-text pairs in one batch."""
        device = reps['cls'].device
        labels = torch.cat([s.gt_label for s in data_samples['cls']
                            ]).to(device)
        weights, labels = self.text_classifier.class_embeddings(labels)
        images, texts, pair_labels = [reps['cls']], [weights[labels]], [
            labels
        ]
        if 'itc_image' in reps:
            n = reps['itc_image'].shape[0]
            images.append(reps['itc_image'])
            texts.append(reps['itc_text'])
            # each caption pair its own label, below every class label
            pair_labels.append(-1 - rank_offset(n, device) -
                               torch.arange(n, device=device))
        return self.itc_loss(
            torch.cat(images), torch.cat(texts),
            labels=torch.cat(pair_labels))

    def loss(self, inputs: Streams,
             data_samples: Dict[str, List[DataSample]]
             ) -> Dict[str, torch.Tensor]:
        """Losses of one iteration.

        Args:
            inputs (dict): ``cls`` and/or ``itc`` image batches.
            data_samples (dict): ``cls`` samples with ``gt_label``; ``itc``
                samples with ``text`` (the caption).

        Returns:
            dict: ``loss_cls`` and/or ``loss_itc`` and logging values.
        """
        return self.losses_from_representations(
            self.representations(inputs, data_samples), data_samples)

    def train_step(self, data, optim_wrapper, ddp=None
                   ) -> Dict[str, torch.Tensor]:
        """One optimisation step; feature-cache accumulation if enabled.

        Args:
            data (dict): A batch from the dataloader.
            optim_wrapper (OptimWrapper): The optimizer wrapper.
            ddp (nn.Module, optional): The DDP wrapper of this model
                (:class:`FeatureCacheDistributedDataParallel` passes it).

        Returns:
            dict: The logged losses.
        """
        if self.accum_freq == 1:
            return super().train_step(data, optim_wrapper)
        if optim_wrapper._accumulative_counts != 1:
            raise ValueError(
                'accum_freq (feature-cache accumulation) and '
                'optim_wrapper.accumulative_counts cannot be combined: use '
                'accum_freq alone for contrastive-correct accumulation.')
        data = self.data_preprocessor(data, True)
        data_samples = data['data_samples']
        chunks = split_streams(data['inputs'], data_samples, self.accum_freq)
        log_vars = {}

        def compute_loss(reps):
            loss, parsed = self.parse_losses(
                self.losses_from_representations(reps, data_samples))
            log_vars.update(parsed)
            return loss

        feature_cache_step(self, chunks, compute_loss, optim_wrapper, ddp)
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        return log_vars

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        """Class scores over the vocabulary (or the head's classes).

        Args:
            inputs (Tensor): ``(N, C, H, W)`` images.
            data_samples (list[DataSample], optional): Samples to fill.

        Returns:
            list[DataSample]: With ``pred_score`` and ``pred_label``.
        """
        return self.predict_from_feats(self.extract_feat(inputs), data_samples)

    def predict_from_feats(self,
                           x: torch.Tensor,
                           data_samples: Optional[List[DataSample]] = None
                           ) -> List[DataSample]:
        """:meth:`predict` on backbone + neck features ``x``.

        For callers that score several vocabularies on features computed
        once (:class:`ZeroShotValLoop`).
        """
        classifier = self.text_classifier
        if classifier is not None and classifier.num_classes:
            proj = self.cls_proj if self.cls_proj is not None else \
                self.visual_proj
            return self.classify(proj(x), data_samples)
        if self.cls_head is None:
            raise ValueError('A model without cls_head predicts over a '
                             'vocabulary: set `vocabulary` in the config or '
                             'call model.text_classifier.set_vocabulary().')
        return self.cls_head.predict((self._cls_input(x), ), data_samples)

    def classify(self,
                 embeds: torch.Tensor,
                 data_samples: Optional[List[DataSample]] = None,
                 vocabulary: Optional[ClassTextBank] = None
                 ) -> List[DataSample]:
        """Text-classifier scores of image embeddings.

        Args:
            embeds (Tensor): ``(N, D)`` projected image features.
            data_samples (list[DataSample], optional): Samples to fill.
            vocabulary (ClassTextBank, optional): Score these classes
                instead of those :attr:`text_classifier` scores now (several
                vocabularies on features computed once).

        Returns:
            list[DataSample]: With ``pred_score``, ``pred_label`` and
            ``pred_logits``.
        """
        if self.text_classifier is None:
            raise ValueError('Zero-shot prediction needs a text encoder.')
        logits, _ = self.text_classifier(embeds, class_texts=vocabulary)
        scores = logits.softmax(-1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(scores.shape[0])]
        for sample, score, logit in zip(data_samples, scores, logits):
            sample.set_pred_score(score).set_pred_label(score.argmax(0))
            # raw scaled cosines: per-class rankings across images (mAP)
            # must not depend on the softmax over the other classes
            sample.set_field(logit, 'pred_logits')
        return data_samples

    def forward(self,
                inputs: Union[torch.Tensor, Streams],
                data_samples=None,
                mode: str = 'tensor'):
        """``'loss'``, ``'predict'`` or ``'tensor'`` (image embeddings)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.embed_images(inputs)
        if mode == 'representations':
            return self.representations(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')
