"""MST: mixed-sparsity GPT pretraining on the shared sparse engine (mst spec).

Modules: ``configs`` (named model sizes), ``model`` (GPT-2-style decoder), ``attention`` (hybrid sparse
attention patterns, eqs. 11-15), ``schedule`` (sparsity variation and HSA window on the engine's
schedules), ``flops`` (eqs. 16-19), ``data`` (Shakespeare / any text, memory-mapped tokens), ``train``
(single process or torchrun DDP, checkpoint/resume), ``cli`` (``python -m deeprl mst``).
"""
