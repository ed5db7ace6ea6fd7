// Package analysis checks, on trained encoders, the assumptions behind the information-theoretic
// reading of VICReg (Shwartz-Ziv, Balestriero and LeCun), and measures the entropy estimators
// against ground truth.
//
//   - (A1) Conditional Gaussianity, Gaussianity: for K anchor images, M views each (the run's own
//     augmentation, or isotropic input noise), embedded; Mardia's multivariate skewness and kurtosis
//     on the first few principal components of each anchor's views, Anderson–Darling on those
//     components and on random projections (Holm-corrected); the fraction of anchors that pass,
//     with a Wilson interval.
//   - (A1) under input noise, NoiseSweep: the paper's figure. For each anchor and each normalised
//     noise level σ, one p-value of multivariate normality of the outputs of noisy copies of the
//     anchor (NormalityTest: Henze–Zirkler on the first principal components, exact Monte Carlo
//     null; Calibrate and KSUniform check that it is uniform under the null); per σ the mean
//     p-value with its interval and the pass fractions; Claims gives a verdict on the paper's
//     claims. Compare puts several runs of one encoder on one figure and table.
//   - (A2) Local affinity, Affinity: for noise scales s and random unit directions u,
//     E[(u·(f(x+δ)−f(x)))²] / E[(∇_x(u·f(x))·δ)²], δ ~ N(0, s²I), whose denominator equals
//     s²·||∇_x(u·f(x))||²; 1 means affine. One backward pass gives every direction's gradient.
//   - (A3) Entropy and mutual information, Entropies: every estimator of package losses and the
//     kNN estimator of losses/entropy on held-out embeddings, and the lower bound on I(Z;Z').
//   - EstimatorTable: each estimator's error against closed-form (Gaussian) and Monte Carlo
//     (Gaussian mixture, exact density) ground truth, across dimensions and sample sizes.
//
// Run measures a checkpoint or a run's series of checkpoints (and a randomly initialised encoder
// as the baseline); WriteReport writes the JSON, SVG/PNG figures and a Markdown summary, and
// WriteComparison does the same for Compare. The
// statistics run on the host in float64; the encoder and the graph estimators on a GoMLX
// backend (the encoder's input gradient needs XLA). The command is `go run ./analyze`.
package analysis
