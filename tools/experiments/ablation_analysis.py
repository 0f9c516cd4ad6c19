"""Where the ablation's zero-shot and retrieval figures come from.

Reloads the weights every finished ablation run saved (``model.pth``) and

* splits held-out zero-shot top-1 into the classes whose name is a nonce
  word (only the description says what they look like) and the classes
  with an informative name ("orange cross"), for both vocabularies;
* tests the retrieval-deficit hypothesis (the classification loss on the
  joint embedding pulls images towards their class): on the retrieval
  pairs, how close each image embedding is to its class's mean direction
  and to the other classes', and which share of the image-to-text
  retrieval errors still names the right (colour, shape) class, i.e. the
  embedding knows the class but not the scene.

Writes ``analysis.json`` and ``analysis.md`` next to the ablation report,
which ``ablation.py --report-only`` then includes in the README section::

    python tools/experiments/ablation_analysis.py --work-dir work_dirs/ablation
    python tools/experiments/ablation.py --report-only
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import ablation  # noqa: E402


def torch_no_grad(fn):
    """``torch.no_grad`` applied at call time (torch is imported late)."""
    def wrapped(*args, **kwargs):
        import torch
        with torch.no_grad():
            return fn(*args, **kwargs)
    return wrapped


def _split_scores(model, world_cfg: Dict, num_per_class: int) -> Dict:
    import numpy as np
    from ablation_eval import _cls_dataset
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    from icar_mm.evaluation import extract_features
    from icar_mm.evaluation.benchmark import (synthetic_world_spec,
                                              vocabularies)
    from icar_mm.evaluation.features import build_dataloader
    from icar_mm.evaluation.zero_shot import zero_shot_logits
    nonce = np.array(SyntheticWorld(**world_cfg).is_nonce('heldout'))
    held = _cls_dataset(world_cfg, 'heldout', num_per_class, 2)
    embeds, labels = extract_features(model, build_dataloader(held, 128),
                                      'embedding')
    out = {}
    spec = synthetic_world_spec(dict(world=world_cfg))
    for vname, bank in vocabularies(spec, descriptions='synthetic').items():
        pred = zero_shot_logits(model, embeds, bank).argmax(1)
        hit = pred == labels
        is_nonce = nonce[labels]
        out[vname] = dict(
            nonce=100. * float(hit[is_nonce].mean()),
            informative=100. * float(hit[~is_nonce].mean()),
            all=100. * float(hit.mean()))
    out['num_nonce_classes'] = int(nonce.sum())
    return out


@torch_no_grad
def _joint_space(model, world_cfg: Dict, num: int) -> Dict:
    """Class concentration of the joint image embeddings and the kind of
    retrieval errors, on ``ablation_eval``'s retrieval pairs."""
    import numpy as np
    from ablation_eval import caption_retrieval_dataset
    from icar_mm.datasets.synthetic_world import SyntheticWorld
    from icar_mm.evaluation.features import build_dataloader
    from icar_mm.evaluation.retrieval import encode_texts
    dataset = caption_retrieval_dataset(SyntheticWorld(**world_cfg), num)
    images = []
    for batch in build_dataloader(dataset, 128):
        data = model.data_preprocessor(batch, False)
        images.append(model.embed_images(data['inputs']).float().numpy())
    images = np.concatenate(images)
    return joint_space_figures(images, encode_texts(model, dataset.captions),
                               np.array(dataset.image_classes))


def joint_space_figures(images, texts, classes) -> Dict:
    """What :func:`_joint_space` reports, from the embeddings.

    Args:
        images (np.ndarray): ``(N, D)`` normalised image embeddings.
        texts (np.ndarray): ``(N, D)`` normalised embeddings of their
            captions (caption ``i`` belongs to image ``i``).
        classes (np.ndarray): ``(N, )`` class of each image's main object.

    Returns:
        dict: image -> text R@1, the share of images whose retrieved
        caption is of their class, the share of the errors that are, the
        mean cosine of an image to its class's mean direction and to the
        other classes' (classes with one image or more), and the first of
        these for the captions (their class's mean caption direction).
    """
    import numpy as np
    num = len(classes)
    best = (images @ texts.T).argmax(1)  # image -> text
    hit = best == np.arange(num)
    right_class = classes[best] == classes
    own, others = _class_concentration(images, classes)
    errors = int((~hit).sum())
    return dict(
        i2t_r1=100. * float(hit.mean()),
        i2t_class_r1=100. * float(right_class.mean()),
        errors_right_class=100. * float((right_class & ~hit).sum()) /
        max(errors, 1),
        cos_own_class=own,
        cos_other_classes=others,
        text_cos_own_class=_class_concentration(texts, classes)[0])


def _class_concentration(embeddings, classes) -> Tuple[float, float]:
    """The mean cosine of each embedding to its class's mean direction and
    to the other classes' (the mean over those classes)."""
    import numpy as np
    present = np.unique(classes)
    means = np.stack([embeddings[classes == c].mean(0) for c in present])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    cos = embeddings @ means.T  # (N, classes present)
    own = cos[np.arange(len(classes)), np.searchsorted(present, classes)]
    others = (cos.sum(1) - own) / (len(present) - 1)
    return float(own.mean()), float(others.mean())


def finished_run_dir(work_dir: str, variant: str,
                     seed: int) -> Optional[str]:
    """The directory of the finished run of ``variant``'s config file as it
    is now, under the ablation schedule: its main run's, or a tagged run's
    whose setting the file now holds (a sweep's best,
    :func:`ablation.tagged_twin`); None if there is none (an earlier main
    run of another setting is not it)."""
    from ablation_eval import DEFAULT_EVAL_SIZES
    if '+' in variant:  # an investigation's tagged run, VARIANT+TAG
        wd = osp.join(work_dir, variant, f'seed{seed}')
        return wd if _tagged_run(wd) is not None else None
    run = ablation._load_result(
        ablation.run_dir(work_dir, variant, seed),
        ablation.schedule_key(ablation.SCHEDULE, DEFAULT_EVAL_SIZES),
        ablation.config_fingerprint(variant))
    if run is None:
        return None
    return ablation.run_dir(work_dir, variant, seed, run.get('tag'))


def _tagged_run(work_dir: str) -> Optional[Dict]:
    """The ``result.json`` of a finished tagged run (``--tag``) under the
    ablation schedule, whatever its setting; None if there is none."""
    from ablation_eval import DEFAULT_EVAL_SIZES
    path = osp.join(work_dir, 'result.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        run = json.load(f)
    key = ablation.schedule_key(
        dict(ablation.SCHEDULE, tag=run.get('tag'),
             cfg_options=run.get('cfg_options')), DEFAULT_EVAL_SIZES)
    return run if run.get('key') == key else None


def _run_cfg(variant: str, seed: int, work_dir: str):
    """The config a run trained: its variant's file, and a tagged run's
    ``--cfg-options`` (recorded in its ``result.json``)."""
    cfg = ablation.load_cfg(variant.split('+')[0], seed, ablation.SCHEDULE,
                            work_dir)
    if '+' in variant:
        cfg.merge_from_dict(_tagged_run(work_dir)['cfg_options'] or {})
    return cfg


def analyse(work_dir: str, variants: List[str], seeds: List[int],
            threads: int = 1) -> Dict:
    """Nonce / informative split of held-out zero-shot, per run."""
    import torch
    torch.set_num_threads(threads)
    import icar_mm  # noqa: F401
    from ablation_eval import DEFAULT_EVAL_SIZES
    from icar_mm.registry import MODELS
    results = {}
    for v in variants:
        for s in seeds:
            wd = finished_run_dir(work_dir, v, s)
            if wd is None or not osp.isfile(osp.join(wd, 'model.pth')):
                continue  # not finished (or its weights are elsewhere)
            path = osp.join(wd, 'model.pth')
            if '+' in v:  # not in the ablation's report: keep its figures
                run = _tagged_run(wd)
                results.setdefault(v, {})[str(s)] = dict(run=dict(
                    (k, run.get(k))
                    for k in ('tag', 'cfg_options', 'metrics', 'cpu_s')))
            cached = osp.join(wd, 'analysis.json')
            if osp.isfile(cached) and osp.getmtime(cached) > osp.getmtime(
                    path):
                result = json.load(open(cached))
                if 'text_cos_own_class' in result.get(
                        'joint_space', {}):  # else: an older analysis
                    results.setdefault(v, {}).setdefault(
                        str(s), {}).update(result)
                    continue
            cfg = _run_cfg(v, s, wd)
            model = MODELS.build(cfg.model)
            model.load_state_dict(torch.load(path, map_location='cpu'))
            model.eval()
            result = _split_scores(model, dict(cfg.world),
                                   DEFAULT_EVAL_SIZES['heldout'])
            result['joint_space'] = _joint_space(
                model, dict(cfg.world), DEFAULT_EVAL_SIZES['retrieval'])
            with open(cached, 'w') as f:
                json.dump(result, f)
            results.setdefault(v, {}).setdefault(str(s), {}).update(result)
            print(v, s, results[v][str(s)], flush=True)
    return results


#: the joint-space figures: key -> (column title, format)
JOINT_SPACE = {
    'i2t_r1': ('image -> text R@1', '{:.1f}'),
    'i2t_class_r1': ('image -> text, right class', '{:.1f}'),
    'errors_right_class': ('errors naming the right class (%)', '{:.1f}'),
    'cos_own_class': ('cosine to own class mean', '{:.3f}'),
    'cos_other_classes': ('cosine to other class means', '{:.3f}'),
    'text_cos_own_class': ('captions: cosine to own class mean', '{:.3f}'),
}


def _mean_std(vals: List[float], fmt: str) -> str:
    import numpy as np
    std = np.std(vals, ddof=1) if len(vals) > 1 else 0.
    return f'{fmt.format(np.mean(vals))} ± {fmt.format(std)}'


def markdown(results: Dict) -> str:
    """Mean ± std over seeds of each figure: the zero-shot split, then the
    joint space."""
    lines = [
        'Held-out zero-shot top-1 split by the kind of class name (6 of the '
        '10 held-out classes have a nonce name):', '',
        '| variant | names: nonce-named classes | names: informative names '
        '| names + descr.: nonce-named | names + descr.: informative |',
        '|---|---:|---:|---:|---:|'
    ]
    for v, per_seed in results.items():
        cells = [_mean_std([r[vocab][part] for r in per_seed.values()],
                           '{:.1f}')
                 for vocab in ('names', 'described')
                 for part in ('nonce', 'informative')]
        lines.append(f'| `{v}` | ' + ' | '.join(cells) + ' |')
    lines += [
        '', 'The retrieval-deficit hypothesis: on the 500 retrieval pairs, '
        'how close each joint image embedding is to its (colour, shape) '
        "class's mean direction and to the other classes' (a class-collapsed "
        'space: high own, low other), and the share of image -> text errors '
        'that still retrieve a caption of the right class:', '',
        '| variant | ' + ' | '.join(t for t, _ in JOINT_SPACE.values()) +
        ' |', '|---|' + '---:|' * len(JOINT_SPACE)]
    for v, per_seed in results.items():
        cells = [_mean_std([r['joint_space'][k] for r in per_seed.values()],
                           fmt) for k, (_, fmt) in JOINT_SPACE.items()]
        lines.append(f'| `{v}` | ' + ' | '.join(cells) + ' |')
    tagged = {v: r for v, r in results.items() if '+' in v}
    if tagged:
        from ablation_report import METRICS
        lines += [
            '', 'The investigation runs (`ablation.py --tag TAG '
            '--cfg-options ...`; not rows of the table above), their own '
            'figures:', '',
            '| run | seeds | `--cfg-options` | ' +
            ' | '.join(METRICS.values()) + ' |',
            '|---|---:|---|' + '---:|' * len(METRICS)]
        for v, per_seed in tagged.items():
            runs = [r['run'] for r in per_seed.values()]
            options = ' '.join(f'{k}={o}' for k, o in
                               (runs[0]['cfg_options'] or {}).items())
            cells = [_mean_std([r['metrics'][m] for r in runs], '{:.1f}')
                     if runs[0]['metrics'].get(m) is not None else 'n/a'
                     for m in METRICS]
            lines.append(f'| `{v}` | {len(runs)} | `{options}` | ' +
                         ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def keep_earlier(results: Dict, earlier: Dict, variants: List[str],
                 seeds: List[int]) -> List[str]:
    """Add to ``results`` the earlier analysis of the runs it lacks.

    The weights (``model.pth``) stay in the git-ignored work dir, so on
    another machine only the runs trained there can be analysed again;
    the committed ``analysis.json`` keeps the others'.

    Args:
        results (dict): variant -> seed -> analysis, updated in place.
        earlier (dict): The same, from an earlier ``analysis.json``.
        variants (list[str]): The variants to keep.
        seeds (list[int]): The seeds to keep.

    Returns:
        list[str]: ``VARIANT seed S`` of each run kept.
    """
    kept = []
    for v in variants:
        for s in map(str, seeds):
            if s in earlier.get(v, {}) and s not in results.get(v, {}):
                results.setdefault(v, {})[s] = earlier[v][s]
                kept.append(f'{v} seed {s}')
    # in the order of ``variants``, each by seed
    order = {v: i for i, v in enumerate(variants)}
    ordered = {v: dict(sorted(results[v].items())) for v in sorted(
        results, key=lambda v: order.get(v, len(order)))}
    results.clear()
    results.update(ordered)
    return kept


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--out-dir',
                        default=osp.join(ablation.REPO_ROOT, 'docs',
                                         'ablation'))
    parser.add_argument('--variants', nargs='+',
                        default=['clip', 'shallow', 'icar_names', 'icar',
                                 'unicl', 'icar_sigmoid',
                                 'icar_separate_proj',
                                 'icar_detached_weights',
                                 'icar_random_text',
                                 # the retrieval-deficit investigation
                                 'shallow+cosinehead'],
                        help='variants, or tagged runs as VARIANT+TAG '
                        '(analysed with the --cfg-options they recorded)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    results = analyse(args.work_dir, args.variants, args.seeds, args.threads)
    out = osp.join(args.out_dir, 'analysis.json')
    if osp.isfile(out):
        with open(out) as f:
            kept = keep_earlier(results, json.load(f), args.variants,
                                args.seeds)
        if kept:
            print(f'{len(kept)} run(s) without weights here keep their '
                  f'analysis from {out}: {", ".join(kept)}', flush=True)
    if not results:
        raise SystemExit(f'no model.pth under {args.work_dir}')
    with open(out, 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(args.out_dir, 'analysis.md'), 'w') as f:
        f.write(markdown(results))
    print(markdown(results))
    return results


if __name__ == '__main__':
    main()
