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


def _paths(new: Dict, old: Dict, key: str, fmt: str) -> str:
    """``new`` vs ``old`` figures of one key (icar_mm 0.1's text path)."""
    return f'{fmt.format(new[key])} (old path {fmt.format(old[key])})'


def rows() -> List[str]:
    out = []
    r = _load('train_step')
    if r:
        res, s, q = r['results'], r['setup'], r['ratios']
        setup = (f"{s['image_tower']}, {s['text_tower']}, batch {s['batch']} "
                 f"at {s['image_size']} px, median of {s['rounds']} rounds")
        clip, clip_old = res['icar_clip/new'], res['icar_clip/old']
        out.append(_row(
            '1. training step (`train_step.py`)', 'CLIP-only vs OpenCLIP, '
            'images/s', f"{q['icar_clip/new_vs_open_clip_speed']:.2f}x",
            '>= 0.95x', f"{clip['images_per_s']:.1f} vs "
            f"{res['open_clip']['images_per_s']:.1f} img/s (old path "
            f"{q['icar_clip/old_vs_open_clip_speed']:.2f}x); peak "
            f"{clip['peak_mb']:.0f} vs {res['open_clip']['peak_mb']:.0f} MB; "
            f'{setup}'))
        icar, icar_old = res['icar/new'], res['icar/old']
        out.append(_row(
            '', f"iCAR ({s['icar_classes']} described classes) vs CLIP-only",
            f"{q['icar/new_vs_icar_clip/new_speed']:.2f}x", '>= 0.5x',
            f"{icar['images_per_s']:.1f} img/s, peak {icar['peak_mb']:.0f} "
            f"MB (old path {q['icar/old_vs_icar_clip/old_speed']:.2f}x, "
            f"{icar_old['images_per_s']:.1f} img/s); class branch forward "
            + _paths(icar, icar_old, 'class_branch_forward_s', '{:.3f} s')))
        out.append(_row(
            '', 'tokenizer in the training process, per step',
            f"{icar['tokenizer_calls_per_step']:.0f} calls", '0 calls',
            'iCAR ' + _paths(icar, icar_old, 'tokenizer_ms_per_step',
                             '{:.1f} ms') + '; CLIP-only ' +
            _paths(clip, clip_old, 'tokenizer_ms_per_step', '{:.1f} ms')))
        out.append(_row(
            '', 'padding efficiency of the text model (iCAR step)',
            f"{icar['padding_efficiency']:.2f}", '>= 0.9',
            f"old path {icar_old['padding_efficiency']:.2f}; attention "
            f"{icar['attn_implementation']}"))
        if 'icar_subsampled/new' in res:
            sub = res['icar_subsampled/new']
            out.append(_row(
                '', f"iCAR, class subsampling (batch's classes + "
                f"{s['icar_negatives']} negatives) vs CLIP-only",
                f"{q['icar_subsampled/new_vs_icar_clip/new_speed']:.2f}x",
                'reported', f"{sub['images_per_s']:.1f} img/s, peak "
                f"{sub['peak_mb']:.0f} MB"))
    r = _load('text_classifier_cost')
    if r:
        res, q = r['results'], r['ratios']
        first = True
        for n in (1000, 21841):
            for mode in ('full', 'sharded'):
                new, old = res.get(f'new/{mode}/{n}'), res.get(
                    f'old/{mode}/{n}')
                if not (new and old):
                    continue
                goal = '<= 0.4x time, <= 1x memory' if (
                    n == 21841 and mode == 'full') else 'reported'
                out.append(_row(
                    '2. text classifier vs classes '
                    '(`text_classifier_cost.py`)' if first else '',
                    f'{n:,} classes, {mode}'
                    + (' over 2 ranks' if mode == 'sharded' else '') +
                    ': new vs old path, time / memory',
                    f"{q[f'new_vs_old_time/{mode}/{n}']:.2f}x / "
                    f"{q[f'new_vs_old_memory/{mode}/{n}']:.2f}x", goal,
                    f"{new['seconds']:.2f} vs {old['seconds']:.2f} s per "
                    f"step; peak {new['process_peak_mb']:.0f} vs "
                    f"{old['process_peak_mb']:.0f} MB per rank (steps "
                    f"{new['step_peak_mb']:.0f} vs {old['step_peak_mb']:.0f}"
                    f" MB); padding "
                    f"{new['padding_efficiency']:.2f} vs "
                    f"{old['padding_efficiency']:.2f}; tokenizer "
                    f"{new['tokenizer_ms_per_step']:.0f} vs "
                    f"{old['tokenizer_ms_per_step']:.0f} ms per step; token "
                    f"cache {new['token_cache_mb']:.0f} MB, filled in the "
                    f"first step ({new['warmup_seconds']:.0f} s)"))
                first = False
        sub = res.get('new/subsampled/21841')
        if sub:
            out.append(_row(
                '', "21,841 classes, subsampled (batch's classes + "
                f"{r['setup']['negatives']} negatives) vs full, time",
                f"{q['new/subsampled_vs_full_time/21841']:.2f}x",
                'reported', f"{sub['seconds']:.2f} s per step"))
    r = _load('zero_shot_eval')
    if r:
        res, s, q = r['results'], r['setup'], r['ratios']
        new, old = res['icar_mm/new'], res['icar_mm/old']
        out.append(_row(
            '3. zero-shot evaluation (`zero_shot_eval.py`)',
            f"ours vs OpenCLIP `build_zero_shot_classifier`, "
            f"{s['classes']:,} classes x {s['templates']} templates + "
            f"{s['images']:,} images",
            f"{q['icar_mm/new_vs_open_clip_speed']:.2f}x", '>= 1.0x',
            f"{new['seconds']:.1f} vs {res['open_clip']['seconds']:.1f} s "
            f"(old path {old['seconds']:.1f} s, "
            f"{q['icar_mm/old_vs_open_clip_speed']:.2f}x; same weights, min "
            f"cosine {r['min_cosine_between_class_weights']:.4f}); padding "
            f"{new['padding_efficiency']:.2f} vs old "
            f"{old['padding_efficiency']:.2f}, OpenCLIP pads to 77 tokens"))
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
    first = True
    # the same measurement on a CPU with native bfloat16 and on one without
    # (there also torch's own bfloat16 kernels, the path before
    # BF16GemmInFloat32)
    for name, cpu in (('ablation_step', ''),
                      ('ablation_step_avx2', ', AVX2 CPU (no native bf16)')):
        r = _load(name)
        if not r:
            continue
        res, q = r['results'], r['ratios']
        losses = r.get('losses', {})
        for v in ('icar', 'shallow', 'clip', 'linear'):
            for base, what in (
                    ('fp32', 'float32'),
                    ('bf16_torch_gemm', "torch's bf16 kernels (before)")):
                new, old = res.get(f'{v}/bf16'), res.get(f'{v}/{base}')
                if not (new and old):
                    continue
                ours = 'bfloat16 autocast + fused AdamW' + (
                    ', matmuls on float32 kernels'
                    if new['rounds'][-1].get('gemm_in_float32') else '')
                diff = losses.get(f'{v}/bf16_vs_{base}_max_abs_loss_diff')
                out.append(_row(
                    '5. ablation training iteration (`ablation_step.py`)'
                    if first else '',
                    f'`{v}`: {ours} vs {what}{cpu}, time / memory',
                    f"{q[f'{v}/bf16_vs_{base}_speed']:.2f}x faster / "
                    f"{q[f'{v}/bf16_vs_{base}_memory']:.2f}x",
                    '>= 1.5x faster' if v == 'icar' and not cpu else
                    'reported',
                    f"{new['step_seconds']:.3f} vs {old['step_seconds']:.3f}"
                    f" s per iteration, peak {new['peak_mb']:.0f} vs "
                    f"{old['peak_mb']:.0f} MB; {r['setup']['threads']} "
                    f"thread, median of {r['setup']['rounds']} "
                    f"round{'s' * (r['setup']['rounds'] > 1)}" + (
                        '; losses of the first '
                        f"{len(new['rounds'][0]['losses'])} iterations "
                        f'differ by at most {diff:.1e}'
                        if diff is not None else '')))
                first = False
    return out


def table() -> str:
    loads, machine = [], None
    for name in ('train_step', 'text_classifier_cost', 'zero_shot_eval',
                 'ablation_step'):
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
