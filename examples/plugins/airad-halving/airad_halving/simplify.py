"""The `simplify` operator: one of the best solutions, made simpler and faster at the same score.

A template operator: its user message is rendered from the same context as the built-in operators'
(docs/operators.md, "The variables"), in the same sandbox, and checked like a request's own template
when the daemon loads it. It is self-contained (no `{% import %}`), so it renders beside any template
set. The offline coder answers it as `improve`.
"""

from __future__ import annotations

from airad.agents.plugin_api import OperatorPlugin

TEMPLATE = """\
# Task

{{ task.description | trim }}
{% if task.metric %}

The harness scores every submission by {{ task.metric }}\
{% if task.direction %} ({{ task.direction }} is better){% endif %}, on rows your script never sees.
{% endif %}

# Data

{{ task.data_overview | trim }}
{% if program %}

# Research program

The user's research program for this search; its constraints still hold.

{{ program | demote_headings }}
{% endif %}
{% if memory %}

# Previous attempts

Other changes already tried on this solution, and how they ended:

{% for item in memory %}
- node {{ item.node }} ({{ item.operator }}, {{ item.outcome }}): {{ item.plan or "(no plan)" }}
{% endfor %}
{% endif %}

# Your job: simplify

{% set parent = parents[0] %}
The solution below is among the best this search has found\
{% if parent.score is not none %} (validation score {{ "%.6g" | format(parent.score) }}, measured by the harness)\
{% endif %}. Rewrite it to be shorter, clearer and faster **without losing any of that score**:

- drop what does not change the predictions: unused features and imports, dead branches, repeated
  computation, diagnostic printing beyond the validation score;
- replace slow steps by cheaper equivalents (vectorised operations, fewer passes over the data), and
  trim ensemble members, folds or iterations only where they measurably add nothing;
- keep the validation scheme exactly as it is, so the new score is comparable with the old one;
- the script must finish well within {{ time_limit }} on {{ compute.cpus }} CPU{{ "s" if compute.cpus != 1 }}\
{% if compute.gpus %} and {{ compute.gpus }} GPU{{ "s" if compute.gpus != 1 }}{% endif %}, without network access.

In the plan, say what you removed or replaced and why the score should hold; then give the whole script.

# Solution to simplify (node {{ parent.id }})

{{ parent.plan }}

```python
{{ parent.code }}
```
{% if parent.output %}

What it printed:

```
{{ parent.output }}
```
{% endif %}

# Response format

{{ output_contract }}
"""

SIMPLIFY = OperatorPlugin(name="simplify", template=TEMPLATE, parents=1, offline_as="improve")
