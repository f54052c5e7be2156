"""The maths of the policy heads beyond an MLP, and the memory a policy acts with.

`gmm`: a mixture of tanh-squashed Gaussians (robomimic's BC-GMM). `diffusion`: a DDPM
noise schedule, few-step DDIM sampling and the MLP denoiser (Chi et al. 2023). `windows`:
which rows of a flat batch of steps form each observation window and action chunk.
`acting`: the per-row state at run time (observation windows, ACT's temporal ensemble of
action chunks, per-episode random streams). `protege.policies.ActorPolicy` puts them
together; nothing here imports protege's training code, so a saved policy acts without it.
"""
