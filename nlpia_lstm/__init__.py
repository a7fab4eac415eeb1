"""Reproduce, run and extend the LSTM chapter of *NLP in Action* (ch. 9) with Keras 3.

The pipeline reads top to bottom in the module names:
``data`` -> ``preprocessing`` (tokens) -> ``vectors`` -> ``models`` -> ``training`` -> ``grid``
-> ``report``. Importing the package, ``data``, ``preprocessing`` or ``vectors`` does not import
TensorFlow or Keras.
"""

__version__ = "0.1.0"
