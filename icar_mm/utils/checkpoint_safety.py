"""An allow-list that lets ``torch.load(weights_only=True)`` read mmengine
checkpoints, without allowing arbitrary pickled code.

Why this exists
---------------
torch>=2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
calls ``torch.load`` without ``weights_only`` (``CheckpointLoader``, hence
``Runner(resume=True)``, ``load_from`` and
``mmengine.runner.load_checkpoint``). The weights-only unpickler refuses every
global that is not allow-listed, and mmengine checkpoints contain more than
tensors, so loading fails with ``Weights only load failed ...
HistoryBuffer``.

The blunt fixes (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` or patching
``torch.load`` to ``weights_only=False``) make every load, including
downloaded third-party weights, run arbitrary pickled callables. This module
instead adds exactly the globals mmengine checkpoints need with
:func:`torch.serialization.add_safe_globals`; anything else (``os.system``,
``eval``, ``subprocess.Popen``...) is still refused with an
``UnpicklingError`` before it can run.

What a real checkpoint contains
-------------------------------
Found by saving real Runner checkpoints (an mmpretrain ``ImageClassifier``
trained with ``OptimWrapper`` + AdamW + gradient clipping, ``LinearLR`` /
``CosineAnnealingLR`` / ``MultiStepLR`` schedulers, ``EMAHook``, validation
with ``Accuracy`` and ``save_best``; epoch- and iter-based) and listing them
with :func:`torch.serialization.get_unsafe_globals_in_checkpoint`. Besides
tensors, ``OrderedDict``, ``Counter`` and ``_codecs.encode`` (allowed by
torch itself), the ``message_hub`` entry holds:

* ``mmengine.logging.history_buffer.HistoryBuffer`` (the logged scalars);
* its numpy arrays: ``numpy._core.multiarray._reconstruct`` (numpy 2; numpy
  1 writes ``numpy.core.multiarray._reconstruct``), ``numpy.ndarray`` and
  ``numpy.dtype``;
* numpy scalars (``np.float64`` values in ``runtime_info``):
  ``numpy._core.multiarray.scalar`` (numpy 1:
  ``numpy.core.multiarray.scalar``);
* ``builtins.getattr``; see below.

For other checkpoints we also allow the numpy scalar types (``np.float32``,
``np.int64``...; pickled when a dtype *type* is stored, for instance in
``dataset_meta``) and numpy 2's ``numpy.dtypes.*DType`` classes (pickled for
dtype classes). Both names of the numpy 1 / numpy 2 modules are registered
so checkpoints written under either numpy load under both.

Why ``builtins.getattr`` appears, and why it is not allowed as such
--------------------------------------------------------------------
``HistoryBuffer.__getstate__`` adds its class-level ``_statistics_methods``
dict (``{'min': HistoryBuffer.min, 'max': ..., 'current': ...,
'mean': ...}``) to the pickled state. Those are plain functions with a dotted
``__qualname__`` (``HistoryBuffer.min``), and torch saves with pickle
protocol 2, where such a global is written as ``getattr(HistoryBuffer,
'min')``. Allowing the real ``builtins.getattr`` would hand a malicious file a
general attribute walker over every allowed object (``__globals__``,
``__builtins__``, ``__subclasses__``...), and ``HistoryBuffer.__setstate__``
stores whatever it gets into a class-level dict whose entries mmengine later
calls. So the global name ``builtins.getattr`` is mapped (with torch's
``(object, name)`` form of ``add_safe_globals``) to
:func:`restricted_getattr`, which only returns the statistic methods of
``HistoryBuffer`` (plus pairs registered with :func:`allow_getattr`) and
raises ``UnpicklingError`` for anything else.

What remains possible for a crafted file is to build allow-listed objects
(tensors, numpy arrays/scalars/dtypes, ``HistoryBuffer``); none of them runs
code when constructed. numpy refuses raw bytes as the state of object arrays,
so no object pointer can be forged.

Loading a checkpoint that needs more globals (for example a custom
``HistoryBuffer`` statistic or an object a third-party hook saved) raises the
usual ``Weights only load failed`` error naming the global; allow it with
``torch.serialization.add_safe_globals`` if you trust it, or load a trusted
file with ``torch.load(..., weights_only=False)`` explicitly.

On torch < 2.4 (no ``add_safe_globals``) this module does nothing; on 2.4 and
2.5, which still default to ``weights_only=False``, only the plain entries are
registered (the ``(object, name)`` form needs torch 2.6).
"""
import pickle
from typing import Any, Callable, List, Set, Tuple, Union

import numpy as np
import torch

SafeGlobal = Union[Callable, Tuple[Callable, str]]

#: ``(owner, attribute)`` pairs :func:`restricted_getattr` may resolve.
_ALLOWED_GETATTR: Set[Tuple[Any, str]] = set()

_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _torch_version() -> Tuple[int, int]:
    """The ``(major, minor)`` version of the installed torch."""
    parts = torch.__version__.split('+')[0].split('.')
    return int(parts[0]), int(parts[1])


def restricted_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` inside weights-only loading.

    Pickle protocol 2 writes a global with a dotted ``__qualname__`` (a
    method such as ``HistoryBuffer.min``) as ``getattr(owner, 'min')``. Only
    the allow-listed ``(owner, name)`` pairs resolve.

    Args:
        obj (Any): The object the attribute is read from (the pickled owner).
        name (str): The attribute name.

    Returns:
        Any: ``getattr(obj, name)`` when ``(obj, name)`` is allowed.

    Raises:
        pickle.UnpicklingError: For any other pair.
    """
    if type(name) is str:
        for owner, attr in _ALLOWED_GETATTR:
            if obj is owner and name == attr:
                return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a weights-only load '
        '(icar_mm.utils.checkpoint_safety only resolves allow-listed '
        'attributes, e.g. the HistoryBuffer statistic methods)')


def allow_getattr(owner: Any, name: str) -> None:
    """Let :func:`restricted_getattr` resolve ``getattr(owner, name)``.

    Use it for a trusted class whose methods end up in checkpoints (for
    example a custom statistic method registered on a ``HistoryBuffer``
    subclass).

    Args:
        owner (Any): The class (or module) the attribute belongs to.
        name (str): The attribute name.
    """
    _ALLOWED_GETATTR.add((owner, name))


def _numpy_globals() -> List[SafeGlobal]:
    """The numpy globals of array / scalar / dtype pickles.

    Returns:
        list: ``(object, 'module.name')`` pairs covering the numpy 1 and
        numpy 2 spellings of each name.
    """
    # The very functions numpy's own pickles reference, whatever module
    # numpy keeps them in (numpy.core in 1.x, numpy._core in 2.x).
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    entries: List[SafeGlobal] = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((reconstruct, f'{module}._reconstruct'))
        entries.append((scalar, f'{module}.scalar'))
    entries.append((np.ndarray, 'numpy.ndarray'))
    entries.append((np.dtype, 'numpy.dtype'))

    # Scalar types, under their class name and their numpy aliases
    # (numpy 2 names np.bool_ 'numpy.bool'; numpy 1 pickles 'numpy.bool_').
    scalar_types = {t for t in np.sctypeDict.values() if t is not np.object_}
    for t in scalar_types:
        names = {t.__name__}
        # vars(): np.__getattr__ warns about (or raises for) removed aliases
        names.update(alias for alias in np.sctypeDict
                     if isinstance(alias, str) and alias.isidentifier()
                     and vars(np).get(alias) is t)
        if t is np.bool_:
            names.update(('bool_', 'bool'))
        for name in sorted(names):
            entries.append((t, f'numpy.{name}'))

    # numpy>=1.25 dtype classes (numpy.dtypes.Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                entries.append((obj, f'numpy.dtypes.{name}'))
    return entries


def trusted_checkpoint_globals() -> List[SafeGlobal]:
    """The allow-list for mmengine checkpoints.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`:
        ``(object, 'module.name')`` pairs.
    """
    from mmengine.logging import HistoryBuffer

    for name in _HISTORY_BUFFER_STATISTICS:
        allow_getattr(HistoryBuffer, name)
    entries: List[SafeGlobal] = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (restricted_getattr, 'builtins.getattr'),
    ]
    entries += _numpy_globals()
    return entries


def allow_trusted_checkpoint_globals() -> None:
    """Allow-list the globals mmengine checkpoints need (no global bypass).

    Safe to call repeatedly. A no-op on torch < 2.4; on torch 2.4/2.5 only
    the entries whose ``module.qualname`` matches the pickled name are added
    (their default is still ``weights_only=False``).
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    entries = trusted_checkpoint_globals()
    if _torch_version() < (2, 6):
        plain = []
        for obj, name in entries:
            if obj is restricted_getattr:
                continue
            qualified = (f'{getattr(obj, "__module__", None)}.'
                         f'{getattr(obj, "__qualname__", None)}')
            if qualified == name:
                plain.append(obj)
        entries = plain
    add_safe_globals(entries)
