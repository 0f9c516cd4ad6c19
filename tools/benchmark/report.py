"""Write the benchmark results into the README (between markers).

Reads ``tools/benchmark/results/*.json`` (each written by its benchmark's
``--json``) and replaces the block between ``<!-- scale-benchmarks:start
-->`` and ``<!-- scale-benchmarks:end -->`` in README.md with one table:
every measured ratio, its goal and the figures behind it. Nothing in the
table is typed by hand.

    python tools/benchmark/report.py
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(REPO, 'tools', 'benchmark', 'results')
START, END = '<!-- scale-benchmarks:start -->', '<!-- scale-benchmarks:end -->'


def _load(name: str) -> Optional[Dict]:
    path = osp.join(RESULTS, name + '.json')
    if not osp.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _row(bench, measured, ratio, goal, detail) -> str:
    return f'| {bench} | {measured} | {ratio} | {goal} | {detail} |'


def rows() -> List[str]:
    out = []
    r = _load('train_step')
    if r:
        res, s = r['results'], r['setup']
        setup = (f"{s['image_tower']}, {s['text_tower']}, batch {s['batch']} "
                 f"at {s['image_size']} px, median of {s['rounds']} rounds")
        out.append(_row(
            '1. training step (`train_step.py`)', 'CLIP-only vs OpenCLIP, '
            'images/s', f"{r['ratios']['icar_clip_vs_open_clip_speed']:.2f}x",
            '>= 0.95x', f"{res['icar_clip']['images_per_s']:.1f} vs "
            f"{res['open_clip']['images_per_s']:.1f} img/s; peak "
            f"{res['icar_clip']['peak_mb']:.0f} vs "
            f"{res['open_clip']['peak_mb']:.0f} MB; {setup}"))
        out.append(_row(
            '', f"iCAR ({s['icar_classes']} described classes) vs CLIP-only",
            f"{r['ratios']['icar_vs_icar_clip_speed']:.2f}x", 'reported',
            f"{res['icar']['images_per_s']:.1f} img/s, peak "
            f"{res['icar']['peak_mb']:.0f} MB: the text encoder also runs "
            f"forward + backward over {s['icar_classes']} class texts each "
            'step'))
        if 'icar_subsampled' in res:
            out.append(_row(
                '', f"iCAR, class subsampling (batch's classes + "
                f"{s['icar_negatives']} negatives) vs CLIP-only",
                f"{r['ratios']['icar_subsampled_vs_icar_clip_speed']:.2f}x",
                'reported', f"{res['icar_subsampled']['images_per_s']:.1f} "
                f"img/s, peak {res['icar_subsampled']['peak_mb']:.0f} MB"))
    r = _load('text_classifier_cost')
    if r:
        res = r['results']
        for n in (1000, 21841):
            full, shard, sub = (res.get(f'{m}/{n}') for m in
                                ('full', 'sharded', 'subsampled'))
            if not (full and shard and sub):
                continue
            out.append(_row(
                '2. text classifier vs classes (`text_classifier_cost.py`)'
                if n == 1000 else '', f'{n:,} classes: sharded over 2 ranks '
                '/ subsampled vs full, memory',
                f"{shard['peak_growth_mb'] / full['peak_growth_mb']:.2f}x / "
                f"{sub['peak_growth_mb'] / full['peak_growth_mb']:.2f}x",
                'reported', f"+{full['peak_growth_mb']:.0f} / "
                f"+{shard['peak_growth_mb']:.0f} / "
                f"+{sub['peak_growth_mb']:.0f} MB per rank; "
                f"{full['seconds']:.2f} / {shard['seconds']:.2f} / "
                f"{sub['seconds']:.2f} s per step"))
        ratio = r['ratios'].get('subsampled_memory_largest_vs_smallest_count')
        if ratio is not None:
            out.append(_row(
                '', 'subsampled memory, 21,841 vs 1,000 classes',
                f'{ratio:.2f}x', '~1x (independent of the class count)',
                f"K = {r['setup']['negatives']} negatives + the batch's "
                'classes'))
    r = _load('zero_shot_eval')
    if r:
        res, s = r['results'], r['setup']
        out.append(_row(
            '3. zero-shot evaluation (`zero_shot_eval.py`)',
            f"ours vs OpenCLIP `build_zero_shot_classifier`, "
            f"{s['classes']:,} classes x {s['templates']} templates + "
            f"{s['images']:,} images",
            f"{r['ratios']['icar_mm_vs_open_clip_speed']:.2f}x", '>= 1.0x',
            f"{res['icar_mm']['seconds']:.1f} vs "
            f"{res['open_clip']['seconds']:.1f} s (same weights, min cosine "
            f"{r['min_cosine_between_class_weights']:.4f}); ours pads to the "
            'longest text, OpenCLIP to 77 tokens'))
    r = _load('contrastive_loss_memory')
    if r:
        res = r['results']
        out.append(_row(
            '4. contrastive loss memory (`contrastive_loss_memory.py`)',
            f"local loss + gather-with-grad vs full gather, "
            f"{r['batch_per_rank']:,} pairs x 2 ranks",
            f"{r['ratios']['icar_mm_vs_full_gather']:.2f}x", '< 1x',
            f"+{res['icar_mm']['peak_mb']:.0f} vs "
            f"+{res['open_clip_full']['peak_mb']:.0f} MB; OpenCLIP's local "
            f"loss +{res['open_clip_local']['peak_mb']:.0f} MB "
            f"({r['ratios']['icar_mm_vs_open_clip_local']:.2f}x)"))
    return out


def table() -> str:
    loads, machine = [], None
    for name in ('train_step', 'text_classifier_cost', 'zero_shot_eval'):
        r = _load(name)
        if r:
            machine = machine or r['machine']
            loads.append(f"{name} "
                         f"{r['machine'].get('load_average_at_start', '?')}")
    lines = ['| benchmark | measured | ratio | goal | figures |',
             '|---|---|---|---|---|'] + rows()
    if machine:
        lines.append('')
        lines.append(f"Machine: {machine.get('cpu')}, {machine.get('cpus')} "
                     f"CPUs, torch {machine.get('torch')}. Load average at "
                     f"the start ({', '.join(loads)}): a load above 2 means "
                     'other jobs shared the CPUs, so seconds are noisy; '
                     'variants are interleaved and the ratios are the '
                     'figures to read. Generated by '
                     '`python tools/benchmark/report.py`.')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--readme', default=osp.join(REPO, 'README.md'))
    args = parser.parse_args()
    with open(args.readme) as f:
        text = f.read()
    if START not in text or END not in text:
        raise SystemExit(f'{args.readme} lacks the markers {START} ... {END}')
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(args.readme, 'w') as f:
        f.write(head + START + '\n' + table() + '\n' + END + tail)
    print(table())


if __name__ == '__main__':
    main()
