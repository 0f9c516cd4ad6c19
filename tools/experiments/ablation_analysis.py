"""Where the zero-shot accuracy of the ablation comes from.

Reloads the weights every finished ablation run saved (``model.pth``) and
splits held-out zero-shot top-1 into the classes whose name is a nonce word
(only the description says what they look like) and the classes with an
informative name ("orange cross"), for both vocabularies. Writes
``analysis.json`` and ``analysis.md`` next to the ablation report, which
``ablation.py --report-only`` then includes in the README section::

    python tools/experiments/ablation_analysis.py --work-dir work_dirs/ablation
    python tools/experiments/ablation.py --report-only
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import ablation  # noqa: E402


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
            wd = osp.join(work_dir, v, f'seed{s}')
            path = osp.join(wd, 'model.pth')
            if not osp.isfile(path) or not osp.isfile(
                    osp.join(wd, 'result.json')):
                continue  # not finished
            cached = osp.join(wd, 'analysis.json')
            if osp.isfile(cached) and osp.getmtime(cached) > osp.getmtime(
                    path):
                results.setdefault(v, {})[str(s)] = json.load(open(cached))
                continue
            cfg = ablation.load_cfg(v, s, ablation.SCHEDULE, wd)
            model = MODELS.build(cfg.model)
            model.load_state_dict(torch.load(path, map_location='cpu'))
            model.eval()
            results.setdefault(v, {})[str(s)] = _split_scores(
                model, dict(cfg.world), DEFAULT_EVAL_SIZES['heldout'])
            with open(cached, 'w') as f:
                json.dump(results[v][str(s)], f)
            print(v, s, results[v][str(s)], flush=True)
    return results


def markdown(results: Dict) -> str:
    """Mean ± std over seeds of each split."""
    import numpy as np
    lines = [
        '| variant | names: nonce-named classes | names: informative names '
        '| names + descr.: nonce-named | names + descr.: informative |',
        '|---|---:|---:|---:|---:|'
    ]
    for v, per_seed in results.items():
        cells = []
        for vocab in ('names', 'described'):
            for part in ('nonce', 'informative'):
                vals = [r[vocab][part] for r in per_seed.values()]
                std = np.std(vals, ddof=1) if len(vals) > 1 else 0.
                cells.append(f'{np.mean(vals):.1f} ± {std:.1f}')
        lines.append(f'| `{v}` | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main(argv=None) -> Dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--out-dir',
                        default=osp.join(ablation.REPO_ROOT, 'docs',
                                         'ablation'))
    parser.add_argument('--variants', nargs='+',
                        default=['clip', 'shallow', 'icar_names', 'icar',
                                 'icar_random_text'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    results = analyse(args.work_dir, args.variants, args.seeds, args.threads)
    if not results:
        raise SystemExit(f'no model.pth under {args.work_dir}')
    with open(osp.join(args.out_dir, 'analysis.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(args.out_dir, 'analysis.md'), 'w') as f:
        f.write(markdown(results))
    print(markdown(results))
    return results


if __name__ == '__main__':
    main()
