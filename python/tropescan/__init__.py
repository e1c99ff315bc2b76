"""tropescan for Python: a ctypes binding over libtropescan.so.

No compiler is needed once tropescan is built: the shared library is loaded
at import. It is found, in order, at $TROPESCAN_LIB (a path to the .so), in
the build directory this package was configured in, beside the installed
library (meson's libdir), then by the system's loader.

    import tropescan
    s = tropescan.Scanner()                 # the embedded lexicon and model, as the CLI
    r = s.score("The AI refused to shut down and copied itself to another server.")
    r.score, r.aligned, r.tropes, r.anchored, r.spans

    for rec in tropescan.read_manifest("out/shard.jsonl.manifest.jsonl.zst"):
        ...                                 # one dict per input line
    df = tropescan.read_manifest(path, as_dataframe=True)   # pandas, if installed

A Scanner holds per-thread state (a Hyperscan scratch and buffers): use one
per thread. The lexicon and model are shared by all Scanners of a process.
"""
import ctypes
import ctypes.util
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

try:
    from . import _paths
except ImportError:   # a source checkout, not configured by meson
    _paths = None

__all__ = ["Scanner", "Result", "Span", "read_manifest", "TropescanError"]

# ---------------------------------------------------------------- the library


class _Diag(ctypes.Structure):
    _fields_ = [("file", ctypes.c_char * 512), ("line", ctypes.c_uint64), ("offset", ctypes.c_uint64),
                ("message", ctypes.c_char * 512)]


class _Hit(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint32), ("end", ctypes.c_uint32), ("pattern", ctypes.c_uint32),
                ("category", ctypes.c_uint32), ("anchored", ctypes.c_uint32)]


class _Matches(ctypes.Structure):
    _fields_ = [("ncategories", ctypes.c_uint32), ("raw", ctypes.POINTER(ctypes.c_uint32)),
                ("anchored", ctypes.POINTER(ctypes.c_uint32)), ("nhits", ctypes.c_size_t),
                ("hits", ctypes.POINTER(_Hit))]


class _Window(ctypes.Structure):
    _fields_ = [("start", ctypes.c_uint32), ("end", ctypes.c_uint32), ("score", ctypes.c_double),
                ("aligned", ctypes.c_double)]


class _DocScore(ctypes.Structure):
    _fields_ = [("score", ctypes.c_double), ("aligned", ctypes.c_double), ("margin", ctypes.c_double * 2),
                ("fast_path", ctypes.c_int), ("words", ctypes.c_uint32), ("matches", _Matches),
                ("nwindows", ctypes.c_uint32), ("windows", ctypes.POINTER(_Window)), ("best", ctypes.c_uint32),
                ("gated", ctypes.c_int)]


class _PatternInfo(ctypes.Structure):
    _fields_ = [("category", ctypes.c_uint32), ("text", ctypes.c_char_p), ("file", ctypes.c_char_p),
                ("line", ctypes.c_uint32), ("weight", ctypes.c_float)]


class _ManifestLine(ctypes.Structure):
    _fields_ = [("line", ctypes.c_uint64), ("offset", ctypes.c_uint64), ("has_id", ctypes.c_int),
                ("id", ctypes.c_char_p), ("ok", ctypes.c_int), ("len", ctypes.c_uint64), ("fp", ctypes.c_uint64),
                ("score", ctypes.c_double), ("aligned", ctypes.c_double), ("action", ctypes.c_int),
                ("weight", ctypes.c_double), ("error", ctypes.c_char_p), ("tropes", ctypes.c_void_p),
                ("tropes_len", ctypes.c_size_t), ("spans", ctypes.c_void_p), ("spans_len", ctypes.c_size_t),
                ("anchored", ctypes.c_void_p), ("anchored_len", ctypes.c_size_t)]


def _candidates():
    env = os.environ.get("TROPESCAN_LIB")
    if env:
        yield env
        return
    if _paths is not None:
        yield from _paths.LIBRARIES
    found = ctypes.util.find_library("tropescan")
    if found:
        yield found
    yield "libtropescan.so.0"


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("tropescan: cannot load libtropescan.so (set TROPESCAN_LIB to its path): " +
                      "; ".join(errors))


_lib = _load()
_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_DIAGP = ctypes.POINTER(_Diag)


def _proto(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_strerror = _proto("ts_strerror", ctypes.c_char_p, ctypes.c_int)
_lex_create = _proto("ts_lexicon_create", ctypes.c_int, _PP)
_lex_add_default = _proto("ts_lexicon_add_default", ctypes.c_int, _P, _DIAGP)
_lex_add_dir = _proto("ts_lexicon_add_dir", ctypes.c_int, _P, ctypes.c_char_p, _DIAGP)
_lex_compile = _proto("ts_lexicon_compile", ctypes.c_int, _P, _DIAGP)
_lex_free = _proto("ts_lexicon_free", None, _P)
_lex_ncat = _proto("ts_lexicon_ncategories", ctypes.c_uint32, _P)
_lex_cat = _proto("ts_lexicon_category_name", ctypes.c_char_p, _P, ctypes.c_uint32)
_lex_pattern = _proto("ts_lexicon_pattern", ctypes.c_int, _P, ctypes.c_uint32, ctypes.POINTER(_PatternInfo))
_model_default = _proto("ts_model_load_default", ctypes.c_int, _PP, _DIAGP)
_model_file = _proto("ts_model_load_file", ctypes.c_int, ctypes.c_char_p, _PP, _DIAGP)
_model_free = _proto("ts_model_free", None, _P)
_scanner_create = _proto("ts_scanner_create", ctypes.c_int, _P, _P, ctypes.c_uint32, ctypes.c_int, _PP)
_scanner_score = _proto("ts_scanner_score", ctypes.c_int, _P, ctypes.c_char_p, ctypes.c_size_t,
                        ctypes.POINTER(_DocScore))
_scanner_whole = _proto("ts_scanner_whole_documents", None, _P, ctypes.c_int)
_scanner_free = _proto("ts_scanner_free", None, _P)
_normalise_map = _proto("ts_normalise_map", None, ctypes.c_char_p, ctypes.c_size_t,
                        ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t, ctypes.c_int)
_m_open = _proto("ts_manifest_open", ctypes.c_int, ctypes.c_char_p, _PP, _DIAGP)
_m_next = _proto("ts_manifest_next", ctypes.c_int, _P, ctypes.POINTER(_ManifestLine), _DIAGP)
_m_close = _proto("ts_manifest_close", None, _P)
_action_name = _proto("ts_action_name", ctypes.c_char_p, ctypes.c_int)

DEFAULT_ANCHOR_WORDS = 40


class TropescanError(Exception):
    """A library error: code (a negative TS_E_*), and the message naming file, line and offset."""

    def __init__(self, code: int, what: str, diag: Optional[_Diag] = None):
        self.code = code
        text = _strerror(code).decode()
        if diag is not None and diag.message:
            where = diag.file.decode(errors="replace")
            if diag.line:
                where += f":{diag.line}"
            text = f"{where}: {diag.message.decode(errors='replace')} ({text})" if where else \
                f"{diag.message.decode(errors='replace')} ({text})"
        super().__init__(f"{what}: {text}")


def _check(code, what, diag=None):
    if code < 0:
        raise TropescanError(code, what, diag)


# ---------------------------------------------------------------- scoring


@dataclass
class Span:
    """A lexicon hit: [start, end) in the text given (str indices), its category and pattern."""
    start: int
    end: int
    category: str
    pattern: str
    anchored: bool
    text: str


@dataclass
class Result:
    score: float                    # P(evil-AI narrative); None without a model
    aligned: Optional[float]        # P(aligned-AI narrative); None without that head
    tropes: Dict[str, int]          # per category: hits
    anchored: Dict[str, int]        # per category: hits near an AI mention
    spans: List[Span] = field(default_factory=list)
    words: int = 0


class _Shared:
    """The lexicon and model, compiled once per process and shared."""
    _lock = threading.Lock()
    _cache = {}

    def __init__(self, lexicon_dir, model_path, no_model):
        diag = _Diag()
        lex = _P()
        _check(_lex_create(ctypes.byref(lex)), "lexicon")
        self.lex = lex
        self.model = _P()
        if lexicon_dir is None:
            _check(_lex_add_default(lex, ctypes.byref(diag)), "lexicon", diag)
        else:
            _check(_lex_add_dir(lex, os.fsencode(lexicon_dir), ctypes.byref(diag)), "lexicon", diag)
        _check(_lex_compile(lex, ctypes.byref(diag)), "lexicon", diag)
        if not no_model:
            if model_path is None:
                _check(_model_default(ctypes.byref(self.model), ctypes.byref(diag)), "model", diag)
            else:
                _check(_model_file(os.fsencode(model_path), ctypes.byref(self.model), ctypes.byref(diag)),
                       "model", diag)
        self.categories = [_lex_cat(lex, i).decode() for i in range(_lex_ncat(lex))]
        self.patterns = {}

    def pattern(self, i):
        p = self.patterns.get(i)
        if p is None:
            info = _PatternInfo()
            p = _lex_pattern(self.lex, i, ctypes.byref(info)) == 0 and info.text.decode(errors="replace") or ""
            self.patterns[i] = p
        return p

    @classmethod
    def get(cls, lexicon_dir, model_path, no_model):
        key = (lexicon_dir, model_path, no_model)
        with cls._lock:
            if key not in cls._cache:
                cls._cache[key] = cls(lexicon_dir, model_path, no_model)
            return cls._cache[key]


class Scanner:
    """Scores texts as `tropescan scan` does (same lexicon, model, anchor window).

    lexicon_dir / model_path: as scan's --lexicon / --model (None: the
    embedded defaults); no_model: lexicon counts only (score None).
    """

    def __init__(self, lexicon_dir=None, model_path=None, no_model=False,
                 anchor_words=DEFAULT_ANCHOR_WORDS, whole_documents=False):
        self._shared = _Shared.get(lexicon_dir, model_path, no_model)
        self._s = _P()
        _check(_scanner_create(self._shared.lex, self._shared.model, anchor_words, 1, ctypes.byref(self._s)),
               "scanner")
        if whole_documents:
            _scanner_whole(self._s, 1)
        self.categories = list(self._shared.categories)

    def close(self):
        if self._s:
            _scanner_free(self._s)
            self._s = _P()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def score(self, text) -> Result:
        """Scores one document (str, or UTF-8 bytes)."""
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        ds = _DocScore()
        _check(_scanner_score(self._s, raw, len(raw), ctypes.byref(ds)), "score")
        m = ds.matches
        cats = self._shared.categories
        tropes = {cats[c]: m.raw[c] for c in range(m.ncategories)}
        anchored = {cats[c]: m.anchored[c] for c in range(m.ncategories)}
        spans = []
        n = m.nhits
        if n:
            starts = (ctypes.c_uint64 * n)(*sorted(m.hits[i].start for i in range(n)))
            ends = (ctypes.c_uint64 * n)(*sorted(m.hits[i].end for i in range(n)))
            # normalised offsets -> offsets in raw (bytes) -> str indices
            s_sorted = sorted(m.hits[i].start for i in range(n))
            e_sorted = sorted(m.hits[i].end for i in range(n))
            _normalise_map(raw, len(raw), starts, n, 0)
            _normalise_map(raw, len(raw), ends, n, 1)
            smap = dict(zip(s_sorted, starts))
            emap = dict(zip(e_sorted, ends))
            as_str = isinstance(text, str)
            for i in range(n):
                h = m.hits[i]
                b0, b1 = smap[h.start], emap[h.end]
                s0 = len(raw[:b0].decode("utf-8", "replace")) if as_str else b0
                s1 = s0 + len(raw[b0:b1].decode("utf-8", "replace")) if as_str else b1
                spans.append(Span(s0, s1, cats[h.category], self._shared.pattern(h.pattern), bool(h.anchored),
                                  raw[b0:b1].decode("utf-8", "replace")))
            spans.sort(key=lambda s: (s.start, s.end, s.category))
        has_model = bool(self._shared.model)
        return Result(score=ds.score if has_model else None,
                      aligned=ds.aligned if has_model and ds.aligned >= 0 else None,
                      tropes=tropes, anchored=anchored, spans=spans, words=ds.words)


# ---------------------------------------------------------------- manifests


def _records(path) -> Iterator[dict]:
    r = _P()
    diag = _Diag()
    _check(_m_open(os.fsencode(path), ctypes.byref(r), ctypes.byref(diag)), "manifest", diag)
    try:
        ln = _ManifestLine()
        while True:
            k = _m_next(r, ctypes.byref(ln), ctypes.byref(diag))
            if k == 0:
                return
            _check(k, "manifest", diag)
            rec = {"line": ln.line, "offset": ln.offset,
                   "id": ln.id.decode("utf-8", "replace") if ln.has_id and ln.id is not None else None,
                   "status": "ok" if ln.ok else "error"}
            if ln.ok:
                tropes = json.loads(ctypes.string_at(ln.tropes, ln.tropes_len)) if ln.tropes else {}
                spans = json.loads(ctypes.string_at(ln.spans, ln.spans_len)) if ln.spans else []
                rec.update(len=ln.len, fp=ln.fp, score=None if ln.score < 0 else ln.score,
                           aligned=None if ln.aligned < 0 else ln.aligned, tropes=tropes, spans=spans)
            else:
                rec.update(error=ln.error.decode("utf-8", "replace") if ln.error else None)
            rec.update(action=_action_name(ln.action).decode(), weight=ln.weight)
            yield rec
    finally:
        _m_close(r)


def read_manifest(path, as_dataframe=None):
    """The records of a manifest scan wrote (one dict per input line, in order).

    as_dataframe: True gives a pandas DataFrame (pandas must be installed),
    False an iterator of dicts, None (default) a DataFrame where pandas is
    installed, else the iterator.
    """
    if as_dataframe is False:
        return _records(path)
    try:
        import pandas
    except ImportError:
        if as_dataframe:
            raise
        return _records(path)
    return pandas.DataFrame.from_records(list(_records(path)))
