"""String preprocessing: ``StringLookup`` and ``TextVectorization`` (``output_mode="int"``),
with vocabularies read from ``.keras`` assets."""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from kerasave.layers.base import Layer, _register

# TensorFlow's DEFAULT_STRIP_REGEX for "lower_and_strip_punctuation".
_STRIP = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


@_register
class StringLookup(Layer):
    """Maps strings to integer ids (``output_mode="int"``; index 0 is the mask token ``""``
    when ``mask_token`` is set, then ``num_oov_indices`` OOV ids, then the vocabulary).

    Args:
        max_tokens: Recorded only.
        num_oov_indices: Number of OOV ids (only 1 or 0 supported).
        mask_token: The mask token or None.
        oov_token: The OOV token.
        vocabulary: A list of tokens (a file path is refused).
        output_mode: Only ``"int"``.
        **kwargs: Other Keras arguments are recorded.
    """

    def __init__(self, max_tokens: Optional[int] = None, num_oov_indices: int = 1,
                 mask_token: Optional[str] = None, oov_token: str = "[UNK]",
                 vocabulary: Any = None, output_mode: str = "int", **kwargs: Any) -> None:
        extra = {k: kwargs.pop(k) for k in list(kwargs)
                 if k not in ("name", "trainable", "dtype")}
        super().__init__(**kwargs)
        self.extra = extra
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.output_mode = output_mode
        self._vocab: List[str] = []
        self._index: Dict[str, int] = {}
        if isinstance(vocabulary, (list, tuple)):
            self.set_vocabulary(list(vocabulary))

    def set_vocabulary(self, tokens: List[str]) -> None:
        """Sets the full token list (mask and OOV tokens included if present)."""
        self._vocab = list(tokens)
        self._index = {t: i for i, t in enumerate(self._vocab)}

    def get_vocabulary(self) -> List[str]:
        """The token list, id order."""
        return list(self._vocab)

    def vocabulary_size(self) -> int:
        """Number of ids."""
        return len(self._vocab)

    def load_own_assets(self, read: Callable[[str], bytes]) -> None:
        """Reads ``vocabulary.txt`` (one token a line) from the model's assets."""
        self.set_vocabulary(read("vocabulary.txt").decode("utf-8").split("\n"))

    def _cast_input(self, x: Any) -> Any:
        return np.asarray(x)

    def lookup(self, tokens: List[str]) -> List[int]:
        """Ids for tokens (OOV -> the first OOV id)."""
        oov = self._index.get(self.oov_token, 1 if self.mask_token is not None else 0)
        return [self._index.get(t, oov) for t in tokens]

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        flat = [_as_text(v) for v in x.reshape(-1)]
        return np.asarray(self.lookup(flat), np.int64).reshape(x.shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token, "vocabulary": None,
                "output_mode": self.output_mode, **self.extra}


@_register
class TextVectorization(Layer):
    """Standardizes, splits and maps text to padded id sequences (``output_mode="int"``).

    Args:
        max_tokens: Vocabulary cap.
        standardize: ``"lower_and_strip_punctuation"``, ``"lower"``, ``"strip_punctuation"``
            or None.
        split: ``"whitespace"``, ``"character"`` or None.
        ngrams: Only None.
        output_mode: Only ``"int"``.
        output_sequence_length: Pad/truncate to this length.
        pad_to_max_tokens: Recorded only.
        vocabulary: A token list (file paths are refused).
        **kwargs: Other Keras arguments are recorded.
    """

    def __init__(self, max_tokens: Optional[int] = None,
                 standardize: Optional[str] = "lower_and_strip_punctuation",
                 split: Optional[str] = "whitespace", ngrams: Any = None,
                 output_mode: str = "int", output_sequence_length: Optional[int] = None,
                 pad_to_max_tokens: bool = False, vocabulary: Any = None,
                 idf_weights: Any = None, sparse: bool = False, ragged: bool = False,
                 encoding: str = "utf-8", vocabulary_size: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if output_mode != "int" or ngrams is not None:
            raise NotImplementedError("kerasave TextVectorization supports output_mode='int' "
                                      "without ngrams")
        self.max_tokens, self.standardize, self.split = max_tokens, standardize, split
        self.ngrams, self.output_mode = ngrams, output_mode
        self.output_sequence_length = output_sequence_length
        self.pad_to_max_tokens, self.idf_weights = pad_to_max_tokens, idf_weights
        self.sparse, self.ragged, self.encoding = sparse, ragged, encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, mask_token="",
                                          vocabulary=vocabulary if isinstance(
                                              vocabulary, (list, tuple)) else None)
        self.built = True

    def get_vocabulary(self) -> List[str]:
        """The token list (index 0 is the padding token ``""``)."""
        return self._lookup_layer.get_vocabulary()

    def vocabulary_size(self) -> int:
        """Number of ids."""
        return self._lookup_layer.vocabulary_size()

    def load_own_assets(self, read: Callable[[str], bytes]) -> None:
        """Reads ``vocabulary.txt`` from the model's assets."""
        self._lookup_layer.load_own_assets(read)

    def _cast_input(self, x: Any) -> Any:
        return np.asarray(x)

    def _tokens(self, text: str) -> List[str]:
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            text = text.lower()
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            text = _STRIP.sub("", text)
        if self.split == "whitespace":
            return text.split()
        if self.split == "character":
            return list(text)
        return [text]

    def call(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs)
        if x.ndim == 2 and x.shape[-1] == 1:
            x = x[:, 0]
        rows = [self._lookup_layer.lookup(self._tokens(_as_text(v))) for v in x.reshape(-1)]
        length = self.output_sequence_length or max([len(r) for r in rows] + [0])
        out = np.zeros((len(rows), length), np.int64)
        for i, r in enumerate(rows):
            r = r[:length]
            out[i, :len(r)] = r
        return out

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "standardize": self.standardize, "split": self.split, "ngrams": self.ngrams,
                "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": self.sparse,
                "ragged": self.ragged, "vocabulary": None, "idf_weights": self.idf_weights,
                "encoding": self.encoding, "vocabulary_size": self.vocabulary_size()}
