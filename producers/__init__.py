"""The confluent-kafka edge: typed producers, the console producer, demo and load traffic."""
