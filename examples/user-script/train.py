"""The user's own training script, autoresearch style: a deliberately weak baseline.

airad runs it as node 0 in a fresh working directory (this project folder is read-only at
./input/), reads the accuracy it writes to metrics.json, and then improves it.
"""

import json

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)

model = DecisionTreeClassifier(max_depth=3, random_state=0)
model.fit(X_train, y_train)

accuracy = float((model.predict(X_valid) == y_valid).mean())
print(f"Validation metric: {accuracy:.4f}")
with open("metrics.json", "w") as handle:
    json.dump({"accuracy": accuracy}, handle)
