"""Knowledge: articles with tags, fetched paragraphs, word counts, word search and snippets."""
