// Package losses holds the self-supervised objectives and the differentiable entropy estimators of
// the toolkit, as GoMLX graph functions. Z and Z' are the two views' embeddings, [n, d] (n images,
// d dimensions); Zc is Z with each column's batch mean removed; Σ_Z = Zcᵀ Zc/(n-1).
//
// Objectives (New(name, Params); every one is minimised):
//
//   - "vicreg" (Bardes, Ponce, LeCun 2022):
//     λ·s(Z,Z') + μ·k·[v(Z) + v(Z')] + ν·[c(Z) + c(Z')], with
//     s = mean((Z - Z')²), v(Z) = (1/d)·Σ_j max(0, γ - sqrt(Var(z_j) + ε)),
//     c(Z) = (1/d)·Σ_{i≠j} C(Z)_ij², C(Z) = Σ_Z, and k = 1 ("sum": the paper's equation,
//     solo-learn) or k = 1/2 ("half": the official code). Defaults λ = μ = 25, ν = 1, γ = 1, ε = 1e-4.
//   - "vicreg-logdet" (Shwartz-Ziv et al. 2023): λ·s(Z,Z') - w·[H_LD(Z) + H_LD(Z')], with
//     H_LD(Z) = ½·log det(I + β·Σ_Z). Default β = Auto: d/tr(Σ_Z) per batch (AutoBeta).
//   - "vicreg-pairdist" (Shwartz-Ziv et al. 2023; Kolchinsky and Tracey 2017):
//     λ·s(Z,Z') - w·[H_D(Z) + H_D(Z')], with
//     H_D(Z) = d/2·log(2πeσ²) - (1/n)·Σ_i log((1/n)·Σ_j exp(-D_ij)), D_ij = ||z_i - z_j||²/(8σ²)
//     (Bhattacharyya: a lower bound on the entropy of the mixture (1/n)·Σ_i N(z_i, σ²I)) or
//     ||z_i - z_j||²/(2σ²) (KL: an upper bound). Default σ = 1; σ = Auto is
//     σ² = median ||z_i - z_j||²/(2 ln n) per batch (AutoSigma).
//
// The scale-aware values (Auto) follow the embeddings' scale, so that the estimates are not
// saturated whatever it is; they are computed from each batch without gradient. β = Auto is
// LogDet's default. σ = Auto is not PairDist's: on MNIST the objective trained far worse with it
// than at the fixed σ = 1, like a fixed σ at a small EntropyWeight/σ² (docs/paper.md). Explicit
// values (> 0) are used as given. Params' JSON form (stored in checkpoints) writes Auto as "auto".
//   - "barlow" (Zbontar et al. 2021): Σ_i (1 - C_ii)² + λ_BT·Σ_{i≠j} C_ij², with C = Ẑᵀ Ẑ'/n
//     the cross-correlation of the batch-standardised views; λ_BT = 0.0051.
//   - "simclr" (Chen et al. 2020), NT-Xent: (1/2n)·Σ_i -log(exp(sim(u_i, u_i⁺)/τ) / Σ_{j≠i} exp(sim(u_i, u_j)/τ))
//     over the 2n L2-normalised embeddings u = [Z; Z'], sim the dot product; τ = 0.2 by default.
//
// Estimators (graph side, differentiable): GaussianEntropy H_G = d/2·log(2πe) + ½·log det(Σ_Z + εI),
// LogDetEntropy H_LD, PairwiseEntropy H_D, GaussianMutualInfo H(Z) - H(Z|Z') (both Gaussian,
// H(Z|Z') from the residual Z - Z': a lower bound on I(Z;Z') for Gaussian Z only), and the VICReg pieces Invariance, Variance and Covariance.
// Host-side float64 versions for diagnostics (plus the Kozachenko–Leonenko kNN estimator) are in
// the subpackage losses/entropy.
//
// The log-determinant inside the graph: GoMLX v0.26.0 has no Cholesky, eigendecomposition or while
// loop. LogDetSPD builds one from slices, element-wise ops and matrix products: a recursive block
// Schur-complement split down to LeafSize×LeafSize blocks, each factorised by unrolled sweep-operator
// steps, which also yield the inverse used as the exact gradient (d log det A/dA = A⁻¹), so the backward
// pass does not differentiate through the unrolled steps. LogDetIPlusGram applies it to the smaller of
// I_d + αZcᵀZc and I_n + αZcZcᵀ (equal determinants), which is SPD even when n < d.
package losses
