# SPDX-License-Identifier: MIT
"""ctypes binding of the C library carried next to this module (libsectionloss.so.MAJOR).

ctypes.CDLL releases the GIL for the duration of every foreign call, so Python threads run the
C kernels concurrently. Nothing here knows about torch: callers pass raw pointers (int) and
shapes; functional.py turns tensors into those.
"""
import ctypes
import os

from ._version import __version__

_MAJOR = __version__.split(".")[0]
LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            f"libsectionloss.so.{_MAJOR}")


class Shape(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int64), ("c", ctypes.c_int64), ("h", ctypes.c_int64),
                ("w", ctypes.c_int64)]


class Box(ctypes.Structure):
    _fields_ = [("x1", ctypes.c_int32), ("y1", ctypes.c_int32), ("x2", ctypes.c_int32),
                ("y2", ctypes.c_int32)]


class Region(ctypes.Structure):
    """sl_region; Region(boxes, num_boxes, ...) sets size to sizeof(sl_region) itself."""
    _fields_ = [("size", ctypes.c_size_t), ("boxes", ctypes.c_void_p),
                ("num_boxes", ctypes.c_int64), ("mask", ctypes.c_void_p),
                ("mask_channels", ctypes.c_int64), ("box_offsets", ctypes.c_void_p)]

    def __init__(self, *args, **kwargs):
        super().__init__(ctypes.sizeof(Region), *args, **kwargs)


class Stats(ctypes.Structure):
    _fields_ = [("loss_sum", ctypes.c_double), ("normalizer", ctypes.c_double),
                ("count", ctypes.c_int64)]


class Options(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("reduction", ctypes.c_int),
                ("weight", ctypes.c_void_p),
                ("pos_weight", ctypes.c_void_p), ("ignore_index", ctypes.c_int64),
                ("label_smoothing", ctypes.c_float), ("grad_scale", ctypes.c_float),
                ("grad_map", ctypes.c_void_p), ("num_threads", ctypes.c_int),
                ("stats", ctypes.POINTER(Stats)),
                ("box_stats", ctypes.c_void_p), ("pixel_weight", ctypes.c_void_p),
                ("focal_gamma", ctypes.c_float), ("focal_alpha", ctypes.c_float),
                ("dice_tversky", ctypes.c_int), ("tversky_alpha", ctypes.c_float),
                ("tversky_beta", ctypes.c_float), ("tversky_gamma", ctypes.c_float),
                ("dice_smooth", ctypes.c_float), ("dice_eps", ctypes.c_float),
                ("dice_log_loss", ctypes.c_int), ("dice_from_logits", ctypes.c_int),
                ("dice_sums", ctypes.c_void_p),
                # 1.1
                ("ohem_thresh", ctypes.c_float), ("ohem_min_kept", ctypes.c_int64),
                ("input_dtype", ctypes.c_int), ("target_dtype", ctypes.c_int),
                ("weight_dtype", ctypes.c_int), ("grad_f32", ctypes.c_int)]


class LayoutEntry(ctypes.Structure):
    """sl_layout_entry: one row of sl_layout()'s table (frozen in 1.x)."""
    _fields_ = [("type", ctypes.c_char_p), ("field", ctypes.c_char_p), ("offset", ctypes.c_size_t),
                ("size", ctypes.c_size_t)]


class LossEntry(ctypes.Structure):
    """sl_loss_entry: one row of sl_losses()'s table, the library's registry of losses (frozen in
    1.x)."""
    _fields_ = [("name", ctypes.c_char_p), ("function", ctypes.c_char_p), ("labels", ctypes.c_int),
                ("map", ctypes.c_int)]


# The ctypes copies of the C structs, checked against the library's sl_layout() at import.
_STRUCTS = {"sl_shape": Shape, "sl_box": Box, "sl_region": Region, "sl_stats": Stats,
            "sl_options": Options}


# Values of the C enums (include/sectionloss.h).
REDUCTIONS = {"mean": 0, "sum": 1, "none": 2}
LABEL_I64, LABEL_I32, LABEL_U8 = 0, 1, 2
DTYPE_F32, DTYPE_BF16, DTYPE_F16 = 0, 1, 2  # sl_dtype
MAP_ELEMENT, MAP_PIXEL, MAP_CLASS = 0, 1, 2  # sl_map_kind: NONE loss map per element, pixel, class
SL_OK = 0
STATUS_NAMES = ("SL_OK", "SL_ERR_NULL_POINTER", "SL_ERR_SHAPE", "SL_ERR_OVERFLOW",
                "SL_ERR_NUM_BOXES", "SL_ERR_BOX", "SL_ERR_MASK_CHANNELS", "SL_ERR_REDUCTION",
                "SL_ERR_LABEL_TYPE", "SL_ERR_OPTION", "SL_ERR_GRAD_MAP", "SL_ERR_NO_OUTPUT",
                "SL_ERR_ALIAS", "SL_ERR_DOMAIN", "SL_ERR_LABEL", "SL_ERR_ISA_UNAVAILABLE",
                "SL_ERR_BOX_OFFSETS", "SL_ERR_BOX_STATS", "SL_ERR_PIXEL_WEIGHT", "SL_ERR_FOCAL",
                "SL_ERR_DICE", "SL_ERR_OPTIONS_SIZE", "SL_ERR_REGION_SIZE",
                "SL_ERR_NO_MEMORY", "SL_ERR_OHEM", "SL_ERR_DTYPE")

_lib = ctypes.CDLL(LIBRARY_PATH)
_P = ctypes.c_void_p
_lib.sl_options_init.restype = ctypes.c_int
_lib.sl_options_init.argtypes = [ctypes.POINTER(Options), ctypes.c_size_t]
_lib.sl_layout.restype = ctypes.POINTER(LayoutEntry)
_lib.sl_layout.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
_lib.sl_losses.restype = ctypes.POINTER(LossEntry)
_lib.sl_losses.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
_lib.sl_status_string.restype = ctypes.c_char_p
_lib.sl_status_string.argtypes = [ctypes.c_int]
_lib.sl_version.restype = ctypes.c_char_p
_lib.sl_version.argtypes = []
_lib.sl_isa_active.restype = ctypes.c_int
_lib.sl_isa_active.argtypes = []
_lib.sl_isa_name.restype = ctypes.c_char_p
_lib.sl_isa_name.argtypes = [ctypes.c_int]
_lib.sl_isa_available.restype = ctypes.c_int
_lib.sl_isa_available.argtypes = [ctypes.c_int]
_lib.sl_isa_env_status.restype = ctypes.c_int
_lib.sl_isa_env_status.argtypes = []
_BCE_ARGS = [ctypes.POINTER(Shape), _P, _P, ctypes.POINTER(Region), ctypes.POINTER(Options), _P,
             _P]
_LABEL_ARGS = [ctypes.POINTER(Shape), _P, _P, ctypes.c_int, ctypes.POINTER(Region),
               ctypes.POINTER(Options), _P, _P]


def _losses():
    """The library's losses (sl_losses(), its registry src/losses.def): entry name -> (C function
    with its prototype set, takes labels, loss map kind MAP_*)."""
    count = ctypes.c_size_t()
    table = _lib.sl_losses(ctypes.byref(count))
    losses = {}
    for e in (table[i] for i in range(count.value)):
        fn = getattr(_lib, e.function.decode())
        fn.restype = ctypes.c_int
        fn.argtypes = _LABEL_ARGS if e.labels else _BCE_ARGS
        losses[e.name.decode()] = (fn, bool(e.labels), e.map)
    return losses


LOSSES = _losses()


def _check_layout():
    """Raises ImportError, naming the struct and field, when a ctypes struct above differs from
    the loaded library's (sl_layout(): offset and size of every field, sizeof every struct)."""
    count = ctypes.c_size_t()
    table = _lib.sl_layout(ctypes.byref(count))
    c_fields = {name: [] for name in _STRUCTS}
    c_sizeof = {}
    for e in (table[i] for i in range(count.value)):
        name = e.type.decode()
        if name not in _STRUCTS:
            continue
        cls = _STRUCTS[name]
        if e.field is None:
            c_sizeof[name] = e.size
            continue
        field = e.field.decode()
        c_fields[name].append(field)
        desc = getattr(cls, field, None)
        if desc is None or (desc.offset, desc.size) != (e.offset, e.size):
            have = "missing" if desc is None else f"offset {desc.offset}, size {desc.size}"
            raise ImportError(f"sectionloss: {LIBRARY_PATH}: {name}.{field} is at offset "
                              f"{e.offset}, size {e.size} in the library; {__name__}."
                              f"{cls.__name__}.{field}: {have}")
    for name, cls in _STRUCTS.items():
        extra = [f for f, *_ in cls._fields_ if f not in c_fields[name]]
        if extra:
            raise ImportError(f"sectionloss: {LIBRARY_PATH}: {__name__}.{cls.__name__} has "
                              f"fields the library's {name} lacks: {', '.join(extra)}")
        if c_sizeof.get(name) != ctypes.sizeof(cls):
            raise ImportError(f"sectionloss: {LIBRARY_PATH}: sizeof({name}) is "
                              f"{c_sizeof.get(name)} in the library, {ctypes.sizeof(cls)} in "
                              f"{__name__}.{cls.__name__}")


_check_layout()
_DEFAULT_OPTIONS = Options()
if _lib.sl_options_init(ctypes.byref(_DEFAULT_OPTIONS), ctypes.sizeof(Options)) != SL_OK:
    raise ImportError(f"sectionloss: {LIBRARY_PATH}: sl_options_init rejected "
                      f"sizeof(sl_options) {ctypes.sizeof(Options)}")


class SectionLossError(ValueError):
    """A status other than SL_OK from the C library; the message is sl_status_string's."""

    def __init__(self, function, status, detail=""):
        self.status = status
        self.status_name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.status_string = status_string(status)
        self.detail = detail  # the offending value and its bound, when the caller found them
        super().__init__(f"{function}: {self.status_string} ({self.status_name})"
                         + (f": {detail}" if detail else ""))


def status_string(status):
    return _lib.sl_status_string(status).decode()


def version():
    """Version of the loaded C library ("MAJOR.MINOR.PATCH")."""
    return _lib.sl_version().decode()


def isa():
    """Name of the instruction set the C library runs: "avx512", "avx2", "neon" or "scalar"
    (the best this CPU has, or the one SECTIONLOSS_ISA names)."""
    return _lib.sl_isa_name(_lib.sl_isa_active()).decode()


ISA_NAMES = tuple(_lib.sl_isa_name(i).decode() for i in range(4))


def isa_env_problem():
    """A sentence when SECTIONLOSS_ISA is set to a value the library ignores, else None."""
    if _lib.sl_isa_env_status() == SL_OK:
        return None
    available = [n for i, n in enumerate(ISA_NAMES) if _lib.sl_isa_available(i)]
    return (f"SECTIONLOSS_ISA={os.environ.get('SECTIONLOSS_ISA')!r} is ignored: valid values "
            f"are {', '.join(repr(n) for n in ISA_NAMES)} (lower case), of which this CPU and "
            f"build run {', '.join(repr(n) for n in available)}; using {isa()!r}")


# Transparent huge pages for fresh gradient buffers (Linux): with THP in "madvise" mode (the
# common default), a new 176 MB buffer filled by the kernels costs one page fault per 4 KiB
# (about 45 000, most of a CE 8x21x512x512 call's time with PyTorch's default allocator); advised
# MADV_HUGEPAGE, one per 2 MiB. Only buffers of at least 32 MiB: glibc's malloc maps those anew
# at every call (its mmap threshold stops growing at 32 MiB), smaller ones come back from its
# heap already touched, where the advice only costs (measured with jemalloc, which reuses
# memory too: BCE 16x1x512x512 about 5 % slower advised). Elsewhere (no madvise, THP "never" or
# "always") nothing changes.
_HUGE = 1 << 21
_ADVISE_MIN = 32 << 20
_MADV_HUGEPAGE = 14
try:
    _madvise = ctypes.CDLL(None, use_errno=True).madvise if os.uname().sysname == "Linux" \
        else None
    if _madvise is not None:
        _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _madvise.restype = ctypes.c_int
except (AttributeError, OSError):
    _madvise = None


def advise_huge_pages(ptr, nbytes):
    """Advise the whole 2 MiB pages inside [ptr, ptr + nbytes) as huge pages when nbytes is at
    least 32 MiB (a hint: failure is ignored). For new buffers the kernels write in full."""
    lo, hi = (ptr + _HUGE - 1) & ~(_HUGE - 1), (ptr + nbytes) & ~(_HUGE - 1)
    if _madvise is not None and nbytes >= _ADVISE_MIN:
        _madvise(lo, hi - lo, _MADV_HUGEPAGE)


def call(entry, n, c, h, w, input_ptr, target_ptr, *, label_type=LABEL_I64, boxes_ptr=None,
         num_boxes=0, box_offsets_ptr=None, mask_ptr=None, mask_channels=1, weight_ptr=None,
         pos_weight_ptr=None, pixel_weight_ptr=None, reduction="mean", ignore_index=-100,
         label_smoothing=0.0, focal_gamma=2.0, focal_alpha=0.25, dice=None, grad_map_ptr=None,
         num_threads=0, loss_ptr=None, grad_ptr=None, box_stats_ptr=None, ohem_thresh=-1.0,
         ohem_min_kept=0, input_dtype=DTYPE_F32, target_dtype=DTYPE_F32,
         weight_dtype=DTYPE_F32):
    """One call of sl_bce / sl_bce_logits / sl_ce / sl_softmax_focal / sl_sigmoid_focal /
    sl_dice / sl_dice_multiclass (entry "bce", "bce_logits", "ce", "softmax_focal",
    "sigmoid_focal", "dice", "dice_mc"); returns (loss_sum, normalizer, count) from sl_stats, or
    raises SectionLossError. Pointers are ints (or None for NULL). dice: None or a dict of
    sl_options' Dice / Tversky fields by their C names (dice_tversky, tversky_alpha, ...,
    dice_from_logits). box_stats_ptr: room for num_boxes sl_stats (24 bytes each), or None.
    ohem_thresh < 0: no hard example mining. *_dtype: sl_dtype of the input (and gradient), the
    targets and the per-element / pixel weights."""
    shape = Shape(n, c, h, w)
    region = Region(boxes_ptr, num_boxes, mask_ptr, mask_channels, box_offsets_ptr)
    stats = Stats()
    opt = Options.from_buffer_copy(_DEFAULT_OPTIONS)
    opt.reduction = REDUCTIONS[reduction]
    opt.weight = weight_ptr
    opt.pos_weight = pos_weight_ptr
    opt.pixel_weight = pixel_weight_ptr
    opt.ignore_index = ignore_index
    opt.label_smoothing = label_smoothing
    opt.focal_gamma = focal_gamma
    opt.focal_alpha = focal_alpha
    opt.ohem_thresh = ohem_thresh
    opt.ohem_min_kept = ohem_min_kept
    opt.input_dtype = input_dtype
    opt.target_dtype = target_dtype
    opt.weight_dtype = weight_dtype
    opt.grad_map = grad_map_ptr
    opt.num_threads = num_threads
    opt.stats = ctypes.pointer(stats)
    opt.box_stats = box_stats_ptr
    for key, value in (dice or {}).items():
        setattr(opt, key, value)
    fn, labels, _ = LOSSES[entry]
    if labels:
        status = fn(ctypes.byref(shape), input_ptr, target_ptr, label_type, ctypes.byref(region),
                    ctypes.byref(opt), loss_ptr, grad_ptr)
    else:
        status = fn(ctypes.byref(shape), input_ptr, target_ptr, ctypes.byref(region),
                    ctypes.byref(opt), loss_ptr, grad_ptr)
    if status != SL_OK:
        raise SectionLossError(fn.__name__, status)
    return stats.loss_sum, stats.normalizer, stats.count
