"""Unification experiments: slug of the unification node -> "module:Class".

Each measures, with numbers, in what sense two families agree and where the node's caveat bites
(see the module docstrings); ``bench/unifications.py`` runs them all at full scale.
"""

REGISTRY: dict[str, str] = {
    "diffusion-as-ebm": "diffusion_as_ebm:DiffusionAsEBM",
    "diffusion-flow-matching": "diffusion_flow_matching:DiffusionFlowMatching",
    "latent-diffusion-codec-prior": "latent_diffusion:LatentDiffusion",
    "adversarial-distillation": "adversarial_distillation:AdversarialDistillation",
    "energy-matching-fm-ebm": "energy_matching:EnergyMatching",
    "ar-ebm-bijection": "ar_ebm:ArEbmBijection",
    "diffusion-hierarchical-vae": "diffusion_hvae:DiffusionHierarchicalVAE",
    "ar-diffusion-sequences": "ar_diffusion_sequences:ArDiffusionSequences",
}
