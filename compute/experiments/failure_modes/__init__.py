"""Failure-mode experiments: slug of the failure-mode node -> "module:Class".

Each pits a *reproduce* configuration against a *fix* on the same data, seeds and step budget and
computes its verdict from the measured numbers (see ``common.pair_verdict``).
"""

REGISTRY: dict[str, str] = {
    "mode-collapse": "mode_collapse:ModeCollapse",
    "posterior-collapse": "posterior_collapse:PosteriorCollapse",
    "partition-function-bias": "partition_function_bias:PartitionFunctionBias",
    "energy-explosion": "energy_explosion:EnergyExplosion",
    "likelihood-vs-quality": "likelihood_vs_quality:LikelihoodVsQuality",
    "ood-likelihood": "ood_likelihood:OODLikelihood",
    "schedule-mismatch": "schedule_mismatch:ScheduleMismatch",
    "cfg-oversaturation": "cfg_oversaturation:CFGOversaturation",
    "exposure-bias": "exposure_bias:ExposureBias",
    "model-collapse": "model_collapse:ModelCollapse",
    "bias-amplification": "bias_amplification:BiasAmplification",
    "memorisation": "memorisation:Memorisation",
    "hallucination": "hallucination:Hallucination",
}
