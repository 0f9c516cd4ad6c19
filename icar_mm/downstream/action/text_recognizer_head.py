"""Video recognizer head whose classifier is generated from class text."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from mmaction.utils import SampleList

from icar_mm.models.text import ScoredClassCount, build_text_classifier


@MODELS.register_module()
class TextRecognizerHead(BaseHead):
    """iCAR's action head: pool -> dropout -> projection -> text cosine.

    The author's Kinetics-400 head: features are averaged over time and
    space, dropped out (0.5), projected to the joint embedding space by a
    bias-free linear layer (initialised from the pretraining model's
    ``visual_proj`` by the converter) and scored by cosine against class
    embeddings that the text encoder generates from the class texts
    (:class:`icar_mm.models.text.TextClassifier`, tau 0.05). The loss trains
    the text encoder unless ``freeze_text_encoder`` is set.

    The class list can be swapped without retraining: ``test_class_texts``
    (a :class:`ClassTextBank` config, the classifier's ``vocabulary``) is
    scored in evaluation and prediction (zero-shot transfer with
    ``tools/test.py``); :func:`icar_mm.apis.set_vocabulary` swaps it at run
    time. ``num_classes`` follows the classes scored now.

    Works after a 3D backbone (``(N, C, T, H, W)`` features,
    ``Recognizer3D``) and after a 2D one (``(N * num_segs, C, H, W)``,
    ``Recognizer2D``, which passes ``num_segs``).

    Args:
        in_channels (int): Feature channels of the backbone.
        text_classifier (dict): Config of ``TextClassifier`` (text encoder,
            training ``class_texts``, ``embed_dim``, ``tau``...).
        test_class_texts (dict, optional): Class-text bank scored at test
            time instead of the training classes (the classifier's
            ``vocabulary``). Defaults to None.
        dropout_ratio (float): Dropout before the projection.
            Defaults to 0.5.
        init_std (float): Std of the projection's initialisation.
            Defaults to 0.02.
        loss_cls (dict): Classification loss.
            Defaults to ``dict(type='CrossEntropyLoss')``.
        **kwargs: Other :class:`BaseHead` arguments (``topk``,
            ``average_clips``, ``label_smooth_eps``...).
    """

    num_classes = ScoredClassCount()

    def __init__(self,
                 in_channels: int,
                 text_classifier: Dict,
                 test_class_texts: Optional[Dict] = None,
                 dropout_ratio: float = 0.5,
                 init_std: float = 0.02,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 **kwargs) -> None:
        if test_class_texts is not None:
            text_classifier = dict(text_classifier,
                                   vocabulary=test_class_texts)
        classifier = build_text_classifier(text_classifier)
        num_train = classifier.num_training_classes
        kwargs.setdefault('topk', (1, min(5, num_train)))
        super().__init__(
            num_classes=num_train,
            in_channels=in_channels,
            loss_cls=loss_cls,
            **kwargs)
        self.text_classifier = classifier
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio else None
        self.proj = nn.Linear(in_channels, classifier.embed_dim, bias=False)
        self.init_std = init_std

    def init_weights(self) -> None:
        """Initialise the projection; the text tower per its ``init_cfg``."""
        nn.init.normal_(self.proj.weight, std=self.init_std)
        self.text_classifier.init_weights()

    def pool(self, x: torch.Tensor, num_segs: Optional[int] = None
             ) -> torch.Tensor:
        """Average a 3D or 2D backbone's features to ``(N, C)``."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if x.dim() == 5:  # N, C, T, H, W
            return x.mean(dim=(2, 3, 4))
        if x.dim() == 4:  # N * segs, C, H, W
            x = x.mean(dim=(2, 3))
            segs = num_segs or 1
            return x.reshape(-1, segs, x.shape[-1]).mean(1)
        if x.dim() == 2:
            return x
        raise ValueError('TextRecognizerHead expects (N, C, T, H, W), '
                         '(N * num_segs, C, H, W) or (N, C) features, got '
                         f'shape {tuple(x.shape)}')

    def embed(self, x: torch.Tensor, num_segs: Optional[int] = None
              ) -> torch.Tensor:
        """Features in the joint space, ``(N, embed_dim)``."""
        x = self.pool(x, num_segs)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.proj(x)

    def forward(self, x: torch.Tensor, num_segs: Optional[int] = None,
                **kwargs) -> torch.Tensor:
        """Cosine logits ``(N, num_classes)`` of the current classes."""
        logits, _ = self.text_classifier(self.embed(x, num_segs))
        return logits

    def loss(self, feats: torch.Tensor, data_samples: SampleList,
             **kwargs) -> Dict:
        """Cross-entropy against the training classes' text embeddings."""
        labels = torch.cat([s.gt_label.reshape(-1) for s in data_samples])
        feats = self.embed(feats, kwargs.get('num_segs'))
        logits, labels = self.text_classifier(feats, labels.to(feats.device))
        if logits.shape[-1] != self.num_classes:  # class subsampling
            return dict(loss_cls=self.loss_cls(logits, labels))
        for sample, label in zip(data_samples, labels):
            sample.set_gt_label(label.reshape(1))
        # float32: under CPU bfloat16 autocast (tools/train.py's AMP swap
        # without CUDA) the logits are bfloat16, which BaseHead's top-k
        # accuracy cannot turn into numpy
        return self.loss_by_feat(logits.float(), data_samples)

    def predict(self, feats: torch.Tensor, data_samples: SampleList,
                **kwargs) -> SampleList:
        """Scores of the current (possibly swapped) class list (float32:
        mmaction2's metrics convert them to numpy, also under bf16 AMP)."""
        return self.predict_by_feat(self(feats, **kwargs).float(),
                                    data_samples)

    def extra_repr(self) -> str:
        return f'classes={self.num_classes}'
