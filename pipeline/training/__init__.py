"""The training check: gradients and one optimizer step of model.py's module against TensorFlow,
and the Keras compile configuration as model.py code (``make_optimizer``, ``training_loss``).

``compile_config`` writes the code; ``tf_side`` / ``torch_side`` are the two halves (one per
framework, each in its own process); ``compare`` compares them per Keras weight; ``stage`` is
what :mod:`pipeline.flow` calls; ``report`` renders the *Training* section.
"""
