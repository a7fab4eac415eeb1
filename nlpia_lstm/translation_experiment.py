"""Train and compare English -> Spanish translators: a TOML config in, CSV rows and models out.

A config reads like this (every key but ``name`` has the default shown)::

    name = "translate_spa"

    [data]              # path = spa-eng.zip or spa.txt; else found or downloaded (see data.py)
    max_tokens = 10     # keep pairs whose both sides have at most this many tokens
    max_pairs = 0       # 0: all pairs left; else about this many, whole English groups
    val_fraction = 0.1
    test_fraction = 0.1
    split_seed = 0
    min_count = 2       # rarer training tokens become <unk>
    max_vocab = 0       # 0: no limit

    [model]
    variants = ["init", "every_step"]
    embedding_dim = 128
    units = 128         # per encoder direction; the decoder has 2 * units
    encoder_layers = 2
    dropout = 0.0

    [training]
    epochs = 10
    batch_size = 64
    learning_rate = 0.001
    seed = 0

    [decoding]
    beam_width = 4
    max_output_tokens = 20
    examples = 5        # test sentences printed with their translations
    max_test_sentences = 0   # 0: score every distinct test sentence

Each decoder variant is trained once; its test-set scores for greedy and beam decoding go to
``<results_dir>/<name>.csv`` (one row each) and the model to ``<models_dir>/<name>-<variant>
.keras``. Importing this module does not import Keras.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .config import read_toml, resolve_path, table_values
from .errors import ConfigError
from .grid import append_row, finished_keys, row_key, versions
from .translation_data import (
    VARIANTS,
    Vocabulary,
    detokenize,
    encode_source,
    read_pairs,
    references,
    split_pairs,
    teacher_forcing,
)

COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "bleu", "token_accuracy", "val_loss",
    "n_train", "n_val", "n_test", "n_test_sentences", "source_vocab", "target_vocab",
    "max_tokens", "max_pairs", "min_count", "embedding_dim", "units", "encoder_layers",
    "dropout", "epochs", "batch_size", "learning_rate", "train_seconds", "decode_seconds",
    "params", "seed", "split_seed", "data", "nlpia_lstm_version", "keras_version", "backend",
    "backend_version", "python_version", "platform", "finished_at",
]
# A row with the same values in these columns is the same run: a rerun skips it.
KEY_COLUMNS = [
    "experiment", "variant", "decoding", "beam_width", "n_train", "n_val", "n_test",
    "n_test_sentences", "source_vocab", "target_vocab", "max_tokens", "max_pairs", "min_count",
    "embedding_dim", "units", "encoder_layers", "dropout", "epochs", "batch_size",
    "learning_rate", "seed", "split_seed", "data",
]


@dataclass(frozen=True)
class DataSettings:
    path: str | None = None
    max_tokens: int = 10
    max_pairs: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0
    min_count: int = 2
    max_vocab: int = 0


@dataclass(frozen=True)
class ModelSettings:
    variants: tuple = VARIANTS
    embedding_dim: int = 128
    units: int = 128
    encoder_layers: int = 2
    dropout: float = 0.0


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.001
    seed: int = 0


@dataclass(frozen=True)
class DecodingSettings:
    beam_width: int = 4
    max_output_tokens: int = 20
    examples: int = 5
    max_test_sentences: int = 0


@dataclass(frozen=True)
class TranslationExperiment:
    name: str
    description: str = ""
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    training: TrainingSettings = field(default_factory=TrainingSettings)
    decoding: DecodingSettings = field(default_factory=DecodingSettings)


# Keys that must be positive; every other number must not be negative.
_POSITIVE = frozenset({"max_tokens", "embedding_dim", "units", "encoder_layers", "epochs",
                       "batch_size", "learning_rate", "beam_width", "max_output_tokens",
                       "min_count"})


def parse_config(raw: dict, base: Path = Path(".")) -> TranslationExperiment:
    """Validate a parsed TOML config and return the experiment it describes."""
    sections = {"data": DataSettings, "model": ModelSettings, "training": TrainingSettings,
                "decoding": DecodingSettings}
    unknown = set(raw) - set(sections) - {"name", "description"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)}; known: name, "
                          "description, [data], [model], [training], [decoding]")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or "/" in name or name.startswith("."):
        raise ConfigError("the config needs a name (a plain file-name-like string)")
    parts = {key: cls(**table_values(cls, raw.get(key, {}), key, _POSITIVE))
             for key, cls in sections.items()}
    data, model = parts["data"], parts["model"]
    if not 0 < data.val_fraction < 1 or not 0 < data.test_fraction < 1 or (
            data.val_fraction + data.test_fraction >= 1):
        raise ConfigError("data.val_fraction and data.test_fraction must lie in (0, 1) and "
                          "sum to less than 1")
    if not model.variants or set(model.variants) - set(VARIANTS):
        raise ConfigError(f"model.variants must name some of {', '.join(VARIANTS)}, "
                          f"got {list(model.variants)}")
    if not 0 <= model.dropout < 1:
        raise ConfigError(f"model.dropout must lie in [0, 1), got {model.dropout}")
    if data.path:
        parts["data"] = dataclasses.replace(data, path=str(resolve_path(data.path, base)))
    return TranslationExperiment(name=name, description=str(raw.get("description", "")),
                                 **parts)


def load_config(path: str | os.PathLike) -> TranslationExperiment:
    """Read and validate a translation experiment config file."""
    return parse_config(read_toml(path), base=Path(path).parent)


def prepare(exp: TranslationExperiment, *, progress: bool = True):
    """Read, split and index the pairs: ``(splits, source_vocab, target_vocab)``."""
    d = exp.data
    splits = split_pairs(read_pairs(d.path, progress=progress), max_tokens=d.max_tokens,
                         max_pairs=d.max_pairs or None, val_fraction=d.val_fraction,
                         test_fraction=d.test_fraction, seed=d.split_seed)
    source_vocab = Vocabulary.build((s for s, _ in splits.train), d.min_count, d.max_vocab or None)
    target_vocab = Vocabulary.build((t for _, t in splits.train), d.min_count, d.max_vocab or None)
    return splits, source_vocab, target_vocab


def _arrays(pairs, source_vocab: Vocabulary, target_vocab: Vocabulary):
    source = encode_source([s for s, _ in pairs], source_vocab)
    decoder_input, targets = teacher_forcing([t for _, t in pairs], target_vocab)
    return source, decoder_input, targets


def run_experiment(
    exp: TranslationExperiment,
    results_dir: str | os.PathLike = "results",
    models_dir: str | os.PathLike | None = "models",
    *,
    progress: bool = True,
    verbose: int | None = None,
) -> Path:
    """Train each decoder variant, score greedy and beam decoding on the test split, append
    one CSV row per (variant, decoding), save each model; return the CSV's path.

    A variant whose rows are already in the CSV, made with the same settings, is skipped.
    """
    import keras

    from .translation import Translator, bleu, build_model, save_translator, token_accuracy

    say = print if progress else (lambda *a, **k: None)
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    csv_path = results_dir / f"{exp.name}.csv"
    done = finished_keys(csv_path, COLUMNS, KEY_COLUMNS)
    splits, source_vocab, target_vocab = prepare(exp, progress=progress)
    say(f"pairs: {len(splits.train)} train, {len(splits.val)} validation, {len(splits.test)} "
        f"test; vocabularies: {len(source_vocab)} English, {len(target_vocab)} Spanish")
    train = _arrays(splits.train, source_vocab, target_vocab)
    val = _arrays(splits.val, source_vocab, target_vocab)
    test = _arrays(splits.test, source_vocab, target_vocab)
    sources, refs = references(splits.test)
    if exp.decoding.max_test_sentences:
        sources, refs = (sources[:exp.decoding.max_test_sentences],
                         refs[:exp.decoding.max_test_sentences])
    test_ids = encode_source(sources, source_vocab)
    m, t, dec = exp.model, exp.training, exp.decoding
    run_versions = versions()
    if verbose is None:
        verbose = (1 if sys.stderr.isatty() else 2) if progress else 0

    for variant in m.variants:
        row = {
            "experiment": exp.name, "variant": variant,
            "n_train": len(splits.train), "n_val": len(splits.val), "n_test": len(splits.test),
            "n_test_sentences": len(sources), "source_vocab": len(source_vocab),
            "target_vocab": len(target_vocab), "max_tokens": exp.data.max_tokens,
            "max_pairs": exp.data.max_pairs, "min_count": exp.data.min_count,
            "embedding_dim": m.embedding_dim, "units": m.units,
            "encoder_layers": m.encoder_layers, "dropout": m.dropout, "epochs": t.epochs,
            "batch_size": t.batch_size, "learning_rate": t.learning_rate, "seed": t.seed,
            "split_seed": exp.data.split_seed, "data": Path(exp.data.path).name
            if exp.data.path else "spa-eng.zip",
        }
        runs = [("greedy", 1), ("beam", dec.beam_width)]
        if all(_key(row, decoding, width) in done for decoding, width in runs):
            say(f"[{variant}] already in {csv_path}")
            continue
        say(f"[{variant}] training {t.epochs} epochs", flush=True)
        keras.utils.set_random_seed(t.seed)
        model = build_model(len(source_vocab), len(target_vocab), variant=variant,
                            embedding_dim=m.embedding_dim, units=m.units,
                            encoder_layers=m.encoder_layers, dropout=m.dropout,
                            learning_rate=t.learning_rate)
        started = time.perf_counter()
        history = model.fit(list(train[:2]), train[2], validation_data=(list(val[:2]), val[2]),
                            epochs=t.epochs, batch_size=t.batch_size, shuffle=True,
                            verbose=verbose).history
        train_seconds = round(time.perf_counter() - started, 1)
        translator = Translator(model, source_vocab, target_vocab, dec.max_output_tokens)
        row.update(token_accuracy=round(token_accuracy(model, *test), 4),
                   val_loss=round(history["val_loss"][-1], 4), train_seconds=train_seconds,
                   params=model.count_params(), **run_versions)
        outputs = {}
        for decoding, width in runs:
            started = time.perf_counter()
            if decoding == "greedy":
                outputs[decoding] = translator.greedy(test_ids)
            else:
                outputs[decoding] = [translator.beam(ids, width) for ids in test_ids]
            row.update(decoding=decoding, beam_width=width,
                       bleu=round(bleu(refs, outputs[decoding]), 4),
                       decode_seconds=round(time.perf_counter() - started, 1),
                       finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            if _key(row, decoding, width) not in done:
                append_row(csv_path, row, COLUMNS)
            say(f"[{variant}] {decoding} (width {width}): BLEU {row['bleu']:.4f}, token "
                f"accuracy {row['token_accuracy']:.4f} ({row['decode_seconds']} s)", flush=True)
        _print_examples(say, sources, refs, outputs, dec.examples)
        if models_dir:
            saved = save_translator(translator, Path(models_dir) / f"{exp.name}-{variant}.keras",
                                    settings=dataclasses.asdict(exp))
            say(f"[{variant}] model: {saved}")
    return csv_path


def _key(row: dict, decoding: str, width: int) -> tuple[str, ...]:
    return row_key({**row, "decoding": decoding, "beam_width": width}, KEY_COLUMNS)


def _print_examples(say, sources, refs, outputs: dict, n: int) -> None:
    for i in range(min(n, len(sources))):
        say(f"  EN  {detokenize(list(sources[i]))}")
        say(f"  REF {' | '.join(detokenize(r) for r in refs[i])}")
        for decoding, hypotheses in outputs.items():
            say(f"  {decoding:<7}{detokenize(hypotheses[i])}")


__all__ = ["COLUMNS", "TranslationExperiment", "load_config", "parse_config",
           "prepare", "run_experiment"]
