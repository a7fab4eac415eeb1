"""The LSTM's gates, made inspectable: a NumPy reference of the cells and a review tracer.

- :mod:`nlpia_lstm.gates.reference`: :func:`~nlpia_lstm.gates.reference.trace` runs the
  textbook equations of a Keras ``SimpleRNN``, ``LSTM`` or ``GRU`` layer in NumPy and returns
  every gate; importing it loads no Keras.
- :mod:`nlpia_lstm.gates.review`: :func:`~nlpia_lstm.gates.review.inspect_review` runs a saved
  grid model over one review and traces its LSTM, with a CSV and a heatmap of the gates.
"""
