"""Private: the compiled forms of the engine's step (guarded and frozen graphs, packed layouts).

An implementation detail of :class:`motornet_gym.engine.Simulator`; nothing outside the engine and
its front ends imports it. It knows the engine's state only as a tree of tensors (fields by name),
never the engine's types, so the dependency points one way: engine -> _compile.
"""
