"""Fine-tuning of a space's open_clip model on the catalogue (docs/finetuning.md).

- params.py: hyper-parameters and their validation, the deterministic split by product;
- loop.py: the training loop (torch, open_clip's ClipLoss and cosine schedule, checkpoints);
- evaluation.py: Recall@k / MRR of a model on a split (validation per epoch, base vs fine-tuned);
- services.py: start, cancel, resume and run a TrainingRun; the task is embeddings.tasks.train_run.
"""
