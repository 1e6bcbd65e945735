"""ReAct agent: the model calls tools until it can answer; risky calls wait for confirmation."""
