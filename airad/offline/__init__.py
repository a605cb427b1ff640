"""The offline coder: a deterministic program, not a model.

It reads the operator's prompt (the Markdown built by `airad.agents.operators`) and answers in
the format a model would: a short plan, then one fenced Python script. It exists so demos and
tests can exercise the whole path, litellm included, where no hosted model is reachable.
It never learns anything: its "choices" follow from a hash of the prompt text.
"""
