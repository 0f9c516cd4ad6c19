"""Zero-shot image classification over any class list (mmpretrain style)."""
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.apis.base import BaseInferencer

from icar_mm.class_texts import ClassTextBank
from .model_loading import init_model

ClassList = Sequence[Union[str, Dict]]


def parse_texts(texts: str) -> List[str]:
    """``"cat . dog . a red car"`` -> ``['cat', 'dog', 'a red car']``."""
    return [t.strip() for t in texts.split(' . ') if t.strip()] if \
        ' . ' in texts else [t.strip() for t in texts.split('.')
                             if t.strip()]


class ZeroShotInferencer(BaseInferencer):
    """Rank any classes for an image with an iCAR model, no retraining.

    Follows mmpretrain's ``Inferencer`` conventions: ``inferencer(inputs,
    **kwargs)`` with an image path, an array (HxWx3, BGR as from
    ``mmcv.imread``) or a list of them; returns a list of dicts.

    Args:
        model (str | Config | BaseModel): Config file / object, or a model.
        pretrained (str, optional): Checkpoint.
        device (str, optional): Defaults to CPU.
        classes (list, optional): Default class list: names, or dicts with
            ``name`` and ``description``.
        templates (str | list): Template set. Defaults to ``'imagenet'``
            (CLIP's 80); use ``'identity'`` for free-form texts.
        image_size (int, optional): Resize inputs to this square size (for
            configs whose test pipeline does not resize).

    Example::

        >>> inferencer = ZeroShotInferencer('configs/...py', 'ckpt.pth')
        >>> inferencer('cat.jpg', classes=['cat', 'dog'])[0]['pred_class']
        'cat'
    """
    preprocess_kwargs: set = set()
    forward_kwargs: set = {'classes', 'templates', 'use_descriptions'}
    visualize_kwargs: set = {'show_dir', 'vis_topk', 'show'}
    postprocess_kwargs: set = {'topk'}

    def __init__(self,
                 model,
                 pretrained: Optional[str] = None,
                 device: Optional[str] = None,
                 classes: Optional[ClassList] = None,
                 templates: Union[str, Sequence[str]] = 'imagenet',
                 image_size: Optional[int] = None) -> None:
        if isinstance(model, (str, Config)):
            model = init_model(model, pretrained, device or 'cpu')
            pretrained = None
        if not hasattr(model, '_config'):
            model._config = getattr(model, 'cfg', None)
        self.image_size = image_size
        self.default_classes = list(classes) if classes else None
        self.default_templates = templates
        self._banks: Dict[tuple, ClassTextBank] = {}
        super().__init__(model, pretrained or False, device)
        self._current_classes: List[str] = []

    def _init_pipeline(self, cfg) -> Callable:
        steps = []
        if cfg is not None and cfg.get('test_dataloader'):
            steps = [
                dict(t) for t in cfg.test_dataloader.dataset.get(
                    'pipeline', [])
                if t['type'] not in ('LoadImageFromFile',
                                     'mmpretrain.LoadImageFromFile')
            ]
        if not steps or steps[-1]['type'] not in ('PackInputs',
                                                  'mmpretrain.PackInputs'):
            steps.append(dict(type='PackInputs'))
        if self.image_size is not None:
            steps.insert(0, dict(type='Resize', scale=(self.image_size,
                                                       self.image_size)))
        from icar_mm.registry import TRANSFORMS
        pipeline = Compose([TRANSFORMS.build(t) for t in steps])

        def load(item):
            if isinstance(item, str):
                import mmcv
                img = mmcv.imread(item)
                if img is None:
                    raise FileNotFoundError(f'Cannot read image {item!r}.')
            else:
                img = np.asarray(item)
                if img.ndim == 2:
                    img = np.repeat(img[..., None], 3, -1)
            return pipeline(dict(img=img, img_shape=img.shape[:2],
                                 ori_shape=img.shape[:2]))

        return load

    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, np.ndarray) and inputs.ndim == 4:
            return list(inputs)
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        return [inputs]

    def preprocess(self, inputs: list, batch_size: int = 1):
        chunk = []
        for item in inputs:
            chunk.append(self.pipeline(item))
            if len(chunk) == batch_size:
                yield default_collate(chunk)
                chunk = []
        if chunk:
            yield default_collate(chunk)

    def vocabulary(self, classes: ClassList,
                   templates: Union[str, Sequence[str]],
                   use_descriptions: Optional[bool] = None
                   ) -> ClassTextBank:
        key = (repr(list(classes)), repr(templates), use_descriptions)
        if key not in self._banks:
            self._banks[key] = ClassTextBank(
                classes=classes, templates=templates,
                use_descriptions=use_descriptions)
        return self._banks[key]

    @torch.no_grad()
    def forward(self, data: dict, classes: Optional[ClassList] = None,
                templates=None, use_descriptions: Optional[bool] = None):
        classes = classes or self.default_classes
        if not classes:
            raise ValueError('Give the classes to rank (`classes=[...]`).')
        bank = self.vocabulary(classes, templates or self.default_templates,
                               use_descriptions)
        self._current_classes = bank.names
        data = self.model.data_preprocessor(data, False)
        embeds = self.model.visual_proj(
            self.model.extract_feat(data['inputs']))
        return self.model.classify(embeds, data['data_samples'], bank)

    def _rank(self, sample, topk: int) -> List[dict]:
        scores = sample.pred_score.cpu().numpy()
        order = np.argsort(-scores, kind='stable')[:topk]
        return [dict(label=int(i), class_name=self._current_classes[i],
                     score=float(scores[i])) for i in order]

    def visualize(self, ori_inputs: list, preds: list,
                  show_dir: Optional[str] = None, vis_topk: int = 5,
                  show: bool = False) -> Optional[List[str]]:
        if not show_dir:
            return None
        import matplotlib
        matplotlib.use('Agg', force=False)
        import matplotlib.pyplot as plt
        import mmcv
        os.makedirs(show_dir, exist_ok=True)
        paths = []
        for i, (item, pred) in enumerate(zip(ori_inputs, preds)):
            img = mmcv.imread(item) if isinstance(item, str) else \
                np.asarray(item)
            rank = self._rank(pred, vis_topk)
            fig, (a0, a1) = plt.subplots(
                1, 2, figsize=(8, 3.2),
                gridspec_kw=dict(width_ratios=[1, 1.3]))
            a0.imshow(img[..., ::-1] if img.ndim == 3 else img,
                      cmap=None if img.ndim == 3 else 'gray')
            a0.axis('off')
            names = [r['class_name'] for r in rank][::-1]
            a1.barh(names, [100 * r['score'] for r in rank][::-1],
                    color='tab:blue')
            a1.set_xlim(0, 100)
            a1.set_xlabel('probability (%)')
            a1.set_title('zero-shot ranking')
            fig.tight_layout()
            name = osp.splitext(osp.basename(item))[0] if isinstance(
                item, str) else f'{i:04d}'
            path = osp.join(show_dir, f'{name}_zero_shot.png')
            fig.savefig(path, dpi=110)
            plt.close(fig)
            paths.append(path)
        return paths

    def postprocess(self, preds: list, visualization, return_datasamples=False,
                    topk: int = 5) -> list:
        if return_datasamples:
            return preds
        out = []
        for i, sample in enumerate(preds):
            rank = self._rank(sample, max(topk, 1))
            out.append(
                dict(pred_scores=sample.pred_score.cpu().numpy(),
                     pred_label=rank[0]['label'],
                     pred_class=rank[0]['class_name'],
                     pred_score=rank[0]['score'],
                     ranking=rank,
                     visualization=visualization[i]
                     if visualization else None))
        return out
