"""torch's OneCycleLR against fastai's fit_one_cycle curve (what StageRates uses), step by step."""
import numpy as np
import torch

from sk_ulmfit._train.schedule import (
    ONE_CYCLE_DIV,
    ONE_CYCLE_DIV_FINAL,
    ONE_CYCLE_MOMS,
    ONE_CYCLE_PCT,
    StageRates,
)

for total in (7, 64, 500):
    p = torch.nn.Parameter(torch.zeros(1))
    ours = torch.optim.AdamW([p], lr=1.0, betas=(0.9, 0.99))
    rates = StageRates(ours, [1e-2], total, "one_cycle")
    q = torch.nn.Parameter(torch.zeros(1))
    theirs = torch.optim.AdamW([q], lr=1.0, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=1e-2, total_steps=total, pct_start=ONE_CYCLE_PCT,
        anneal_strategy="cos", div_factor=ONE_CYCLE_DIV, final_div_factor=ONE_CYCLE_DIV_FINAL / ONE_CYCLE_DIV,
        base_momentum=ONE_CYCLE_MOMS[1], max_momentum=ONE_CYCLE_MOMS[0], cycle_momentum=True, three_phase=False)
    a, b, ma, mb = [], [], [], []
    for step in range(total):
        a.append(ours.param_groups[0]["lr"]); b.append(theirs.param_groups[0]["lr"])
        ma.append(ours.param_groups[0]["betas"][0]); mb.append(theirs.param_groups[0]["betas"][0])
        ours.step(); rates.step(); theirs.step(); sched.step()
    a, b = np.array(a), np.array(b)
    print(f"{total} steps: largest lr difference {np.abs(a - b).max():.3g} (relative {np.abs(a - b).max() / 1e-2:.2%}) "
          f"at step {np.abs(a - b).argmax()}; momentum {np.abs(np.array(ma) - np.array(mb)).max():.3g}; "
          f"first {a[0]:.3g} / {b[0]:.3g}, last {a[-1]:.3g} / {b[-1]:.3g}")
