"""Stream workers (Faust): windowed traffic views, the deposit velocity monitor, the
pipeline page, and the DLQ tools. They meet the handlers only through catalogue topics."""
