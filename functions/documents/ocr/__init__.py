"""OCR of scanned pages with Tesseract (tesserocr): searchable PDFs from images.

Modules, in the order the work happens (ARCHITECTURE.md "OCR"):

- :mod:`.models`: language models on the shared mount, installed atomically with a
  checksum (``models/tesseract/<lang>.traineddata``).
- :mod:`.engine`: the engine, loaded once per warm environment; threads bounded to the
  function's CPUs; orientation detection and recognition with word boxes.
- :mod:`.page`: the image a scanned page draws, at its own resolution, and its placement.
- :mod:`.textlayer`: the invisible, aligned text layer and its glyphless font.
- :mod:`.document`: which pages to read, reading a range of pages into a part, grafting
  the parts' layers onto the document.

Pure: paths and bytes in, no boto3, nothing imported from the layer until it is needed.
"""
