"""Evaluating trained models and the data that trains them: HumanEval's problems (:mod:`mixer.eval.humaneval`)."""
