"""WiSE-FT: interpolate the zero-shot and the fine-tuned weights.

Wortsman et al., "Robust fine-tuning of zero-shot models" (CVPR 2022):
``theta(alpha) = (1 - alpha) * theta_zero_shot + alpha * theta_fine_tuned``,
key by key, between the weights a fine-tuning run started from and those
it ended with. ``tools/wise_ft.py`` evaluates a list of alphas.
"""
import copy
from typing import (Callable, Dict, List, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint, set_random_seed

from icar_mm.engine.hooks.checkpoint_keys_hook import compare_state_dicts
from icar_mm.registry import HOOKS, MODELS

State = Dict[str, torch.Tensor]


def interpolate_weights(zero_shot: State, fine_tuned: State,
                        alpha: float) -> State:
    """``(1 - alpha) * zero_shot + alpha * fine_tuned`` for every key.

    Floating-point tensors are interpolated; the others (batch-norm's
    ``num_batches_tracked``, token caches) are the fine-tuned ones.

    Args:
        zero_shot (dict): The starting weights (``alpha = 0``).
        fine_tuned (dict): The fine-tuned weights (``alpha = 1``).
        alpha (float): The mixing coefficient, usually in ``[0, 1]``.

    Returns:
        dict: The interpolated state dict.
    """
    if set(zero_shot) != set(fine_tuned):
        only_zs = sorted(set(zero_shot) - set(fine_tuned))
        only_ft = sorted(set(fine_tuned) - set(zero_shot))
        raise ValueError('WiSE-FT needs the same keys at both ends; only '
                         f'zero-shot: {only_zs[:8]}, only fine-tuned: '
                         f'{only_ft[:8]}.')
    out = {}
    for key, ft in fine_tuned.items():
        zs = zero_shot[key]
        if zs.shape != ft.shape:
            raise ValueError(f'{key}: shape {tuple(zs.shape)} (zero-shot) '
                             f'vs {tuple(ft.shape)} (fine-tuned).')
        out[key] = torch.lerp(zs.to(ft), ft, alpha) if (
            ft.is_floating_point()) else ft.clone()
    return out


def fine_tuning_start(cfg: Union[str, Config],
                      zero_shot_checkpoint: Optional[str] = None
                      ) -> Tuple[State, Dict]:
    """The weights a fine-tuning run of ``cfg`` starts from.

    As the runner does it: the config's seed, the model built and
    initialised (pretrained towers from their directories, e.g. a CLIP's),
    ``zero_shot_checkpoint`` loaded as ``load_from`` loads it (non-strict),
    then the config's ``TextInitClassifierHook`` (a head initialised from
    the text-generated class weights) applied.

    Args:
        cfg (str | Config): The fine-tuning config.
        zero_shot_checkpoint (str, optional): The checkpoint it fine-tunes.
            Defaults to the config's ``load_from``; without one, the
            model as the config builds it (a CLIP from its directory).

    Returns:
        tuple: The state dict and a report: ``loaded`` (number of keys from
        the checkpoint), ``text_init`` (keys the hook set) and ``from_init``
        (model keys the checkpoint lacks, left as initialised; a random
        head among them makes ``alpha < 1`` meaningless) and ``unused``
        (checkpoint keys the model does not have).
    """
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    seed = (cfg.get('randomness') or {}).get('seed')
    if seed is not None:
        set_random_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    zero_shot_checkpoint = zero_shot_checkpoint or cfg.get('load_from')
    missing, unused, mismatched = [], [], []
    if zero_shot_checkpoint:
        checkpoint = load_checkpoint(model, zero_shot_checkpoint,
                                     map_location='cpu', strict=False,
                                     logger='silent')
        missing, unused, mismatched = compare_state_dicts(
            checkpoint.get('state_dict', checkpoint), model.state_dict())
    if mismatched:
        raise ValueError(f'{zero_shot_checkpoint} has tensors of another '
                         f'shape than the model of the config: '
                         f'{mismatched[:8]}.')
    text_init: List[str] = []
    for hook_cfg in cfg.get('custom_hooks') or []:
        if hook_cfg.get('type') == 'TextInitClassifierHook':
            hook = HOOKS.build(copy.deepcopy(hook_cfg))
            hook.init_weights(model)
            text_init.append(hook.head_attr)
    report = dict(
        checkpoint=zero_shot_checkpoint,
        loaded=len(model.state_dict()) - len(missing)
        if zero_shot_checkpoint else 0,
        text_init=text_init,
        from_init=[k for k in missing if k not in text_init],
        unused=unused)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state, report


def wise_ft_curve(cfg: Union[str, Config],
                  zero_shot_checkpoint: Optional[str],
                  fine_tuned_checkpoint: str,
                  alphas: Sequence[float] = (0., .25, .5, .75, 1.),
                  datasets: Sequence[str] = ('config', ),
                  data_root: str = 'data',
                  seen: bool = True,
                  logger: Optional[Callable] = None,
                  **zero_shot_kwargs) -> Dict:
    """Evaluate the WiSE-FT interpolations of a fine-tuning run.

    Args:
        cfg (str | Config): The fine-tuning config (its model, its
            ``val_dataloader`` / ``val_evaluator`` for the seen classes, its
            ``test_dataloader`` and ``test_cfg.vocabularies`` for the
            ``'config'`` zero-shot set).
        zero_shot_checkpoint (str, optional): The checkpoint fine-tuning
            started from (None: see :func:`fine_tuning_start`).
        fine_tuned_checkpoint (str): The fine-tuned checkpoint (it must fit
            the config's model exactly).
        alphas (Sequence[float]): Mixing coefficients; 0 is the start, 1 the
            fine-tuned model.
        datasets (Sequence[str]): Zero-shot benchmarks
            (:func:`~icar_mm.evaluation.evaluate_zero_shot`'s names).
        data_root (str): Their data root.
        seen (bool): Also evaluate the config's validation (the fine-tuning
            classes, the model's own head). Defaults to True.
        logger (Callable, optional): Progress messages (default ``print``).
        **zero_shot_kwargs: More arguments of ``evaluate_zero_shot``.

    Returns:
        dict: ``start`` (:func:`fine_tuning_start`'s report) and ``rows``,
        one per alpha: ``alpha``, ``seen`` (validation metrics),
        ``zero_shot`` (dataset -> vocabulary -> score) and
        ``zero_shot_mean`` (vocabulary -> mean over the datasets).
    """
    from icar_mm.evaluation import evaluate_val_metrics, evaluate_zero_shot
    log = logger or print
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    zero_shot, start = fine_tuning_start(cfg, zero_shot_checkpoint)
    if start['from_init']:
        log(f'NOTICE: {len(start["from_init"])} key(s) are not in '
            f'{start["checkpoint"] or "the zero-shot weights"} and keep '
            'the fine-tuning run\'s '
            f'initial values at alpha=0: {start["from_init"][:8]}.')
    model = MODELS.build(copy.deepcopy(cfg.model))
    load_checkpoint(model, fine_tuned_checkpoint, map_location='cpu',
                    strict=True, logger='silent')
    fine_tuned = {k: v.detach().clone()
                  for k, v in model.state_dict().items()}
    rows = []
    for alpha in alphas:
        model.load_state_dict(
            interpolate_weights(zero_shot, fine_tuned, alpha))
        row = dict(alpha=float(alpha))
        if seen:
            row['seen'] = evaluate_val_metrics(model, cfg)
        zs = evaluate_zero_shot(model, data_root, datasets, cfg=cfg,
                                # its notices (a set not found) once
                                logger=(lambda m: None) if rows else log,
                                **zero_shot_kwargs)
        row['zero_shot'] = {
            name: r['scores']
            for name, r in zs['datasets'].items() if r['status'] == 'ok'
        }
        row['zero_shot_mean'] = zs['mean']
        log(f'alpha {alpha:.2f}: seen {row.get("seen")}, zero-shot '
            f'{row["zero_shot_mean"]}')
        rows.append(row)
    return dict(start=start, fine_tuned_checkpoint=fine_tuned_checkpoint,
                rows=rows)
