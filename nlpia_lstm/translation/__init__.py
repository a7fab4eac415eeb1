"""English -> Spanish translation with an LSTM encoder-decoder (Jurafsky & Martin, ch. 9).

- :mod:`nlpia_lstm.translation.text`: tokens, splits by English sentence, word and
  sentencepiece vocabularies and id arrays; loads no Keras.
- :mod:`nlpia_lstm.translation.model`: the encoder-decoder (``init``, ``every_step`` and
  ``attention`` decoders), length-bucketed batches, greedy and beam decoding, sacreBLEU and
  chrF, attention plots, save and load.
- :mod:`nlpia_lstm.translation.experiment`: train and score the decoder variants of a config,
  in this process or as Dask tasks, one CSV row per variant and decoding.
"""
