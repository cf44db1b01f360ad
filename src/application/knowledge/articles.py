"""Articles: write, read, list, change and delete one's own; read everyone's published public ones.

Another user's private or draft article does not exist as far as the caller can tell: reading,
changing or deleting it answers ``article_not_found``, never ``forbidden``. Only the author may
change or delete an article, even a public one (others get ``article_not_found`` there too).
"""

from __future__ import annotations

import uuid

from src.application.knowledge.ports import ArticleFilter, KnowledgeTransaction
from src.application.knowledge.views import (
    ArticlePage,
    ArticleView,
    CreateArticleCommand,
    ListArticlesCommand,
    UpdateArticleCommand,
)
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import ArticleNotFound
from src.domain.knowledge.model import Article, normalise_tag, parse_status, parse_visibility
from src.domain.knowledge.words import SearchQuery
from src.domain.shared.errors import InvalidInput

MAX_PAGE_SIZE = 100


def require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise Forbidden(f"This needs the {permission.value} permission")


def require_publisher_of_public(principal: Principal, article: Article) -> None:
    """Public articles (published and visible to everyone) are written only by those who may publish:
    a viewer keeps private notes and drafts, and may take down a public article of theirs but not change it."""
    if article.is_public:
        require(principal, Permission.KNOWLEDGE_PUBLISH)


async def readable_article(tx: KnowledgeTransaction, principal: Principal, article_id: uuid.UUID) -> Article:
    """The article, when ``principal`` may read it; ``ArticleNotFound`` otherwise. A hidden public
    article is read by its author and by moderators only."""
    article = await tx.articles.get(article_id)
    if article is None or not article.is_readable_by(
        principal.user_id, staff=principal.can(Permission.MODERATION_MANAGE)
    ):
        raise ArticleNotFound("There is no article with this id")
    return article


async def own_article(tx: KnowledgeTransaction, principal: Principal, article_id: uuid.UUID) -> Article:
    """The article, when ``principal`` wrote it; ``ArticleNotFound`` otherwise (never ``forbidden``)."""
    article = await tx.articles.get(article_id)
    if article is None or article.author_id != principal.user_id:
        raise ArticleNotFound("You have no article with this id")
    return article


class CreateArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: CreateArticleCommand) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_WRITE)
        now = self._clock.now()
        article = Article.write(
            id=new_id(now),
            author_id=principal.user_id,
            title=command.title,
            body=command.body,
            tags=command.tags,
            status=parse_status(command.status),
            visibility=parse_visibility(command.visibility),
            now=now,
        )
        require_publisher_of_public(principal, article)
        async with self._uow() as tx:
            await tx.articles.add(article)
        return ArticleView.of(article)


class GetArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, article_id: uuid.UUID) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_READ)
        async with self._uow(read_only=True) as tx:
            return ArticleView.of(await readable_article(tx, principal, article_id))


class ListArticles:
    """Everything the caller may read, newest first: filter by author, status, tag and words."""

    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, command: ListArticlesCommand) -> ArticlePage:
        require(principal, Permission.KNOWLEDGE_READ)
        if not 1 <= command.limit <= MAX_PAGE_SIZE or command.offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_PAGE_SIZE} and offset at least 0")
        article_filter = ArticleFilter(
            reader_id=principal.user_id,
            author_id=command.author_id,
            status=parse_status(command.status) if command.status else None,
            tag=normalise_tag(command.tag) if command.tag else None,
            query=SearchQuery.from_text(command.q) if command.q and command.q.strip() else None,
        )
        async with self._uow(read_only=True) as tx:
            articles, total = await tx.articles.list(article_filter, limit=command.limit, offset=command.offset)
        return ArticlePage(
            items=[ArticleView.of(a) for a in articles], total=total, limit=command.limit, offset=command.offset
        )


class UpdateArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, command: UpdateArticleCommand) -> ArticleView:
        require(principal, Permission.KNOWLEDGE_WRITE)
        async with self._uow() as tx:
            article = await own_article(tx, principal, command.article_id)
            article.edit(
                now=self._clock.now(),
                title=command.title,
                body=command.body,
                tags=command.tags,
                status=parse_status(command.status) if command.status is not None else None,
                visibility=parse_visibility(command.visibility) if command.visibility is not None else None,
            )
            require_publisher_of_public(principal, article)
            await tx.articles.save(article)
        return ArticleView.of(article)


class DeleteArticle:
    def __init__(self, uow: UnitOfWorkFactory[KnowledgeTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, article_id: uuid.UUID) -> None:
        require(principal, Permission.KNOWLEDGE_WRITE)
        async with self._uow() as tx:
            await own_article(tx, principal, article_id)
            await tx.articles.delete(article_id)
