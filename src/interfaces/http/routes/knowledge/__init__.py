"""The knowledge routes under ``/api/v1``: articles, paragraphs, the dictionary, search."""

from __future__ import annotations

from src.interfaces.http.routes.knowledge.articles import ArticlesController
from src.interfaces.http.routes.knowledge.paragraphs import ParagraphsController
from src.interfaces.http.routes.knowledge.search import SearchController

KNOWLEDGE_CONTROLLERS = [ArticlesController, ParagraphsController, SearchController]
