"""Wiring of the ``knowledge`` context: articles, paragraphs, the dictionary and search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from src.application.chat.search_scope import MessageSearchScope
from src.application.knowledge.create_article import CreateArticle
from src.application.knowledge.delete_article import DeleteArticle
from src.application.knowledge.dictionary import TopWordsDefinitions
from src.application.knowledge.fetch_paragraph import FetchParagraph
from src.application.knowledge.get_article import GetArticle
from src.application.knowledge.get_dictionary import GetDictionary
from src.application.knowledge.list_articles import ListArticles
from src.application.knowledge.ports import ParagraphSource, SearchScope
from src.application.knowledge.refresh_dictionary import RefreshDictionary
from src.application.knowledge.search_everything import SearchEverything
from src.application.knowledge.search_paragraphs import SearchParagraphs
from src.application.knowledge.search_scopes import ArticleSearchScope, ParagraphSearchScope
from src.application.knowledge.summarize_article import SummarizeArticle
from src.application.knowledge.update_article import UpdateArticle
from src.application.shared.ports import Cache, Clock
from src.application.unit_of_work import AppUnitOfWorkFactory, UnitOfWork
from src.infrastructure.wiring.llm import ModelAccess


@dataclass(frozen=True, slots=True)
class KnowledgeUseCases:
    create_article: CreateArticle
    get_article: GetArticle
    list_articles: ListArticles
    update_article: UpdateArticle
    delete_article: DeleteArticle
    summarize_article: SummarizeArticle
    fetch_paragraph: FetchParagraph
    search_paragraphs: SearchParagraphs
    get_dictionary: GetDictionary
    refresh_dictionary: RefreshDictionary
    search_everything: SearchEverything[UnitOfWork]


def build_knowledge(
    *,
    uow: AppUnitOfWorkFactory,
    clock: Clock,
    cache: Cache,
    paragraph_source: ParagraphSource,
    dictionary_levels: TopWordsDefinitions,
    models: ModelAccess,
    search_scopes: Sequence[SearchScope[UnitOfWork]] | None = None,
) -> KnowledgeUseCases:
    """``search_scopes`` default to articles, paragraphs and chat messages (``search_everything``)."""
    if search_scopes is None:
        search_scopes = [ArticleSearchScope(), ParagraphSearchScope(), MessageSearchScope()]
    return KnowledgeUseCases(
        create_article=CreateArticle(uow, clock),
        get_article=GetArticle(uow),
        list_articles=ListArticles(uow),
        update_article=UpdateArticle(uow, clock),
        delete_article=DeleteArticle(uow),
        summarize_article=SummarizeArticle(
            uow, models.chat_model, models.catalog, cache, limiter=models.limiter, budgets=models.budgets, clock=clock
        ),
        fetch_paragraph=FetchParagraph(uow, paragraph_source, clock, dictionary_levels),
        search_paragraphs=SearchParagraphs(uow),
        get_dictionary=GetDictionary(dictionary_levels),
        refresh_dictionary=RefreshDictionary(dictionary_levels),
        search_everything=SearchEverything(uow, search_scopes),
    )
