"""Reproduce, run and extend the LSTM chapter of *NLP in Action* (ch. 9) with Keras 3.

The pipeline reads top to bottom in the module names:
``data`` -> ``tokens`` (and the chapter's own ``preprocessing``) -> ``vectors`` -> ``inputs``
-> ``models`` (on the fast layers of ``recurrent``) -> ``training`` -> ``grid`` -> ``results``
-> ``report``, with ``config`` for the TOML experiment files and ``saving`` for model files.
The side systems have rooms of their own: ``generation`` (the character language model),
``gates`` (the LSTM's gates, inspectable) and ``translation`` (the encoder-decoder).
Importing the package, ``data``, ``preprocessing``, ``tokens``, ``vectors``, ``inputs`` or
``config`` does not import TensorFlow or Keras.
"""

__version__ = "0.3.0"
