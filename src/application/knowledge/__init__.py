"""Knowledge use cases: articles, paragraphs, the dictionary, search."""
