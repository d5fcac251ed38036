"""alt-profanity-check's classifier, evaluated with numpy alone.

The package's model is a tf-idf vectoriser and five sigmoid-calibrated linear
SVMs, but loading it imports scikit-learn: about a second before the first
comment can be checked. The same arithmetic needs only each term's idf and
the five weight vectors, so those are read out of the model once (with
scikit-learn) and kept in the user's cache folder; later builds load them in
milliseconds and give the same probabilities.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from digest import cache

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # the vectoriser's token_pattern, after lower-casing
_FORMAT = 1


@dataclass(frozen=True)
class LinearAbuseModel:
    """tf-idf (l2-normalised) → five linear scores → sigmoid calibration → their mean."""

    vocabulary: dict[str, int]
    idf: Any  # (terms,)
    weights: Any  # (terms, models)
    intercepts: Any  # (models,)
    slopes: Any  # (models,) calibration a
    offsets: Any  # (models,) calibration b

    def predict_prob(self, texts: Sequence[str]) -> list[float]:
        """Probability that each text is abusive (as `profanity_check.predict_prob`)."""
        out = []
        for text in texts:
            counts = Counter(
                k for k in map(self.vocabulary.get, _TOKEN.findall(text.lower())) if k is not None
            )
            decision = self.intercepts
            if counts:
                index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=float, count=len(counts))
                values = tf * self.idf[index]
                norm = math.sqrt(float(values @ values))
                decision = (values / norm) @ self.weights[index] + self.intercepts
            probability = 1.0 / (1.0 + np.exp(self.slopes * decision + self.offsets))
            out.append(float(np.mean(probability)))
        return out


def load() -> LinearAbuseModel | None:
    """The model, from the cache or read out of alt-profanity-check; None when absent."""
    try:
        version = metadata.version("alt-profanity-check")
    except metadata.PackageNotFoundError:
        return None
    name = f"abuse-model-{version}-v{_FORMAT}.npz"
    arrays = cache.load_arrays(name)
    if arrays is not None:
        try:
            return _from_arrays(arrays)
        except (KeyError, ValueError):
            pass
    arrays = _read_package_model()
    if arrays is None:
        return None
    cache.save_arrays(name, arrays)
    return _from_arrays(arrays)


def _from_arrays(data: dict[str, Any]) -> LinearAbuseModel:
    terms = [str(t) for t in data["terms"]]
    return LinearAbuseModel(
        vocabulary={t: k for k, t in enumerate(terms)},
        idf=data["idf"],
        weights=data["weights"],
        intercepts=data["intercepts"],
        slopes=data["slopes"],
        offsets=data["offsets"],
    )


def _read_package_model() -> dict[str, Any] | None:
    """Arrays of the package's model (imports scikit-learn, once per cache)."""
    try:
        from profanity_check import profanity_check
    except ImportError:
        return None
    vectoriser, model = profanity_check.vectorizer, profanity_check.model
    terms = sorted(vectoriser.vocabulary_, key=vectoriser.vocabulary_.__getitem__)
    calibrated = model.calibrated_classifiers_
    return {
        "terms": np.array(terms),
        "idf": np.asarray(vectoriser.idf_, dtype=float),
        "weights": np.stack([c.estimator.coef_.ravel() for c in calibrated], axis=1),
        "intercepts": np.array([float(c.estimator.intercept_[0]) for c in calibrated]),
        "slopes": np.array([float(c.calibrators[0].a_) for c in calibrated]),
        "offsets": np.array([float(c.calibrators[0].b_) for c in calibrated]),
    }
