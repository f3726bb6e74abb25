"""The book's models and the one model protocol the library is written against.

* :class:`DifferentiableModel` (``typing.Protocol``): what the influence core, the estimators and
  the reweighting need from a model; :class:`LinearModel` adds the linear last layer FI and the
  linear attack need (:mod:`lib.models.protocol`).
* :class:`LogisticRegression`: L2 binary/multinomial logistic regression trained to convergence by
  Newton's method, with closed-form gradients, Hessian and Hessian-vector products
  (:mod:`lib.models.logistic`).
* :class:`OneHiddenLayerMLP`: a one-hidden-layer perceptron trained deterministically from a seed by
  batched damped Newton, with ``torch.func`` derivatives (:mod:`lib.models.mlp`).
"""

from .base import ArrayLike, LogitClassifier, SingularHessianError, as_labels, as_tensor, check_sample_weight
from .logistic import LogisticRegression
from .mlp import ACTIVATIONS, OneHiddenLayerMLP
from .protocol import DifferentiableModel, LinearModel, check_model

__all__ = [
    "ACTIVATIONS", "ArrayLike", "DifferentiableModel", "LinearModel", "LogisticRegression", "LogitClassifier",
    "OneHiddenLayerMLP", "SingularHessianError", "as_labels", "as_tensor", "check_model", "check_sample_weight",
]
